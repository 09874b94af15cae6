package org.migru.core

import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.async
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/**
 * Migru's words across the FFI: replies and recommendations with a listener and a cancel handle.
 * The template path runs everywhere; the model path needs ONNX Runtime (`ORT_DYLIB_PATH`) and the
 * demo model, which `cargo xtask kotlin-test` writes and passes as `migru.demo.model`.
 */
class AssistantTest : TempCompanion("migru-assistant-test") {

    private val child = ChildProfile(name = "Lea", ageYears = 9u, language = "en")

    private val facts = ParentFacts(
        profile = child,
        chronotype = ChronotypeSummary(Chronotype.LATE, 5.2f, 0.8f),
        patterns = listOf(PatternSummary("headaches follow short nights", 0.8f)),
        forecast = Forecast(Level.HIGH, Level.MODERATE, null),
        causal = CausalFinding("the breathing exercise", 15f, 6f, 24f, "we are fairly sure"),
    )

    /** Everything a listener was told, and on which threads. */
    private class Shown(private val onFirstToken: (() -> Unit)? = null) : ReplyListener {
        val tokens: MutableList<UInt> = Collections.synchronizedList(mutableListOf())
        val threads: MutableSet<String> = Collections.synchronizedSet(mutableSetOf())
        private val text = StringBuilder()
        val firstToken = CountDownLatch(1)

        override fun onToken(generated: UInt) {
            tokens.add(generated)
            threads.add(Thread.currentThread().name)
            if (generated == 1u) {
                firstToken.countDown()
                onFirstToken?.invoke()
            }
        }

        override fun onText(text: String) {
            synchronized(this) { this.text.append(text) }
        }

        override fun onReplace(text: String) {
            synchronized(this) { this.text.setLength(0); this.text.append(text) }
        }

        fun text(): String = synchronized(this) { text.toString() }
    }

    @Test
    fun `without a model the reply is a template with a notice`() {
        assertFalse(companion.hasModel())
        val shown = Shown()
        val reply = companion.replyToChild("I played football with my friends", child, shown, null)
        assertEquals(ReplySource.TEMPLATE, reply.source)
        assertNotNull(reply.notice, "the app says why the reply is a prepared one")
        assertTrue(reply.text.length > 10, reply.text)
        assertEquals(reply.text, shown.text(), "the listener saw the whole reply")
        assertEquals(0u, reply.tokens)
        assertFalse(reply.cancelled)
    }

    @Test
    fun `a message about self-harm always gets the safety response`() {
        val reply = companion.replyToChild("I want to die", child, null, null)
        assertEquals(ReplySource.SAFETY, reply.source)
        assertNull(reply.notice, "the safety response is not a missing-model fallback")
        assertTrue(reply.text.isNotBlank())
    }

    @Test
    fun `similar earlier words of the child are recalled into the prompt`() {
        companion.logMessage("my head hurts after football practice", "2026-03-10T17:00:00+01:00")
        companion.logMessage("we had pizza for dinner", "2026-03-11T19:00:00+01:00")
        val reply = companion.replyToChild("my head hurts again after football", child, null, null)
        assertEquals(1, reply.recalled.size, "${reply.recalled}")
        assertTrue(reply.recalled[0].endsWith("my head hurts after football practice"), reply.recalled[0])
        assertTrue(reply.recalled[0].startsWith("10 Mar"), "dated as the child's calendar had it: ${reply.recalled[0]}")
    }

    @Test
    fun `a parent recommendation without a model comes from the template`() = runBlocking<Unit> {
        val shown = Shown()
        val reply = companion.parentRecommendationAsync(facts, shown, null)
        assertEquals(ReplySource.TEMPLATE, reply.source)
        assertNotNull(reply.notice)
        assertTrue(reply.text.contains("breathing exercise"), reply.text)
        assertEquals(reply.text, shown.text())
    }

    @Test
    fun `a recommendation carries its A-B arm and the thumbs go back with it`() {
        val reply = companion.parentRecommendation(facts, null, null)
        assertNotNull(reply.served, "a parent recommendation says which arm wrote it")
        val served = reply.served!!
        assertEquals(Arm.BASE, served.arm, "no adapter on this phone: the base arm")
        assertNull(served.adapterVersion)
        assertTrue(served.context.startsWith("<|user|>Tip for a parent. Child: night owl."), served.context)
        assertNull(companion.replyToChild("hello", child, null, null).served, "replies to the child have no arm")

        assertTrue(served.shareable, "a template carries none of the child's words")
        val before = companion.stats().outboxPending
        assertTrue(companion.recommendationFeedback(served, reply.text, true))
        assertEquals(before + 1uL, companion.stats().outboxPending, "the thumbs wait in the outbox for sync")
        val error = assertThrows<MigruException.InvalidInput> {
            companion.recommendationFeedback(served.copy(recommendationId = "not-a-uuid"), reply.text, false)
        }
        assertTrue(error.reason.contains("recommendation_id"), error.reason)
    }

    @Test
    fun `a model folder that is not there is ModelUnavailable and templates stay`() {
        val error = assertThrows<MigruException.ModelUnavailable> {
            companion.loadModel(dir.resolve("no-model").toString(), null)
        }
        assertTrue(error.reason.contains("no-model"), error.reason)
        assertFalse(companion.hasModel())
        assertEquals(ReplySource.TEMPLATE, companion.replyToChild("hello", child, null, null).source)
    }

    @Test
    fun `cancel handles are shared flags`() {
        val handle = CancelHandle()
        assertFalse(handle.isCancelled())
        handle.cancel()
        handle.cancel()
        assertTrue(handle.isCancelled())
    }

    // The model path: the demo model streams token by token across the FFI, and cancels.

    private fun withDemoModel() {
        val model = System.getProperty("migru.demo.model").orEmpty()
        assumeTrue(model.isNotBlank() && !System.getenv("ORT_DYLIB_PATH").isNullOrBlank(), "needs ORT_DYLIB_PATH and the demo model")
        companion.loadModel(model, null)
        assertTrue(companion.hasModel())
    }

    @Test
    fun `the demo model streams every token to the listener`() {
        withDemoModel()
        val shown = Shown()
        val reply = companion.replyToChild("I played football today", child, shown, null)
        assertTrue(reply.tokens > 1u, "the model ran: $reply")
        assertEquals((1u..reply.tokens).toList(), shown.tokens.toList(), "one call per token, in order")
        assertNotNull(reply.msFirstToken)
        assertEquals(reply.text, shown.text(), "what the listener shows is the final reply")
        assertNull(reply.notice, "a model is installed")
        // Random weights write gibberish; the guardrail must have replaced it with a template.
        if (reply.source == ReplySource.TEMPLATE) assertTrue(reply.blocked.isNotEmpty(), "$reply")
    }

    @Test
    fun `cancel from the listener stops generation at once`() {
        withDemoModel()
        val handle = CancelHandle()
        val shown = object : ReplyListener {
            val tokens = mutableListOf<UInt>()
            override fun onToken(generated: UInt) {
                tokens.add(generated)
                if (generated == 3u) handle.cancel()
            }
            override fun onText(text: String) {}
            override fun onReplace(text: String) {}
        }
        val reply = companion.replyToChild("I played football today", child, shown, handle)
        assertTrue(reply.cancelled, "$reply")
        assertTrue(reply.tokens in 3u..4u, "stopped right after the cancel: ${reply.tokens} tokens")
        assertEquals(reply.tokens.toInt(), shown.tokens.size)
    }

    @Test
    fun `cancel from another thread stops an async reply`() = runBlocking<Unit> {
        withDemoModel()
        val handle = CancelHandle()
        val pressed = CountDownLatch(1)
        // The worker waits at its first token until this thread has pressed cancel, so the press
        // lands while generation is in flight however fast the demo model is.
        val shown = Shown(onFirstToken = { pressed.await(30, TimeUnit.SECONDS) })
        val pending = async(kotlinx.coroutines.Dispatchers.IO) {
            companion.replyToChildAsync("tell me a story about my day", child, shown, handle)
        }
        assertTrue(shown.firstToken.await(30, TimeUnit.SECONDS), "generation started")
        handle.cancel()
        pressed.countDown()
        val reply = pending.await()
        assertTrue(reply.cancelled, "$reply")
        assertTrue(reply.tokens in 1u..2u, "stopped right after the press: ${reply.tokens} tokens")
        assertTrue(shown.threads.none { it == Thread.currentThread().name }, "generated on the library's worker")
    }

    @Test
    fun `the demo model writes parent recommendations through the guardrail`() {
        withDemoModel()
        val shown = Shown()
        val reply = companion.parentRecommendation(facts, shown, null)
        assertTrue(reply.tokens > 0u, "$reply")
        assertEquals(reply.text, shown.text())
        assertTrue(reply.source == ReplySource.MODEL || reply.blocked.isNotEmpty(), "$reply")
    }
}
