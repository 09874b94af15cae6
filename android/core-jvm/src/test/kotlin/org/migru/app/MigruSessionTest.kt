package org.migru.app

import java.nio.file.Files
import kotlinx.coroutines.runBlocking
import org.migru.core.TurnDecision
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** The apps' non-UI glue over the real library: outcomes, friendly failures, history. */
class MigruSessionTest {
    private fun <T> ok(outcome: Outcome<T>): T = when (outcome) {
        is Outcome.Ok -> outcome.value
        is Outcome.Failed -> throw AssertionError("expected Ok, got $outcome")
    }

    @Test
    fun `talk, symptom log and stats through the session`() = runBlocking<Unit> {
        val dir = Files.createTempDirectory("migru-session")
        ok(MigruSession.open(dir.resolve("migru.db").toString())).use { session ->
            val turn = ok(session.say("I feel a bit dizzy", "en"))
            assertEquals("I feel a bit dizzy", turn.event.text)
            assertEquals(TurnDecision.Quiet("too_early"), turn.decision)
            assertEquals(null, turn.decision.childWords(), "quiet turns show nothing extra")
            val urgent = ok(session.say("worst headache of my life, it came on suddenly", "en"))
            assertTrue(urgent.decision.childWords()?.isNotBlank() == true, "${urgent.decision}")
            assertEquals(4.toUByte(), ok(session.logSymptom(4, "forehead")).intensity)
            assertEquals(
                listOf("I feel a bit dizzy", "worst headache of my life, it came on suddenly", "forehead"),
                ok(session.history()).map { it.text },
            )
            assertEquals(3uL, ok(session.stats()).events)

            val tooMuch = session.logSymptom(12, null)
            assertTrue(tooMuch is Outcome.Failed && !tooMuch.canRetry, "$tooMuch")
            val empty = session.say("  ")
            assertTrue(empty is Outcome.Failed && empty.message.contains("empty"), "$empty")

            val export = dir.resolve("backup.jsonl").toString()
            assertEquals(3L, ok(session.export(export)))
            ok(session.deleteEverything())
            assertEquals(0uL, ok(session.stats()).events)
            val seen = mutableListOf<Long>()
            assertEquals(3uL, ok(session.import(export) { seen.add(it) }).imported)
            assertEquals(listOf(3L), seen)
        }
        dir.toFile().deleteRecursively()
    }

    @Test
    fun `the outlook of a child without band data says why there is no stress forecast`() = runBlocking<Unit> {
        val dir = Files.createTempDirectory("migru-session")
        ok(MigruSession.open(dir.resolve("migru.db").toString())).use { session ->
            val outlook = ok(session.outlook())
            assertTrue(outlook.stress.isEmpty())
            assertTrue(outlook.stressNote!!.contains("two full days"), outlook.stressNote)
            assertEquals(null, outlook.sleep)
            assertEquals("not_yet", outlook.migraineRisk.confidence)
        }
        dir.toFile().deleteRecursively()
    }

    @Test
    fun `a foreign file gives words for a grown-up, not an exception`() = runBlocking<Unit> {
        val dir = Files.createTempDirectory("migru-session")
        val photo = dir.resolve("photo.jpg")
        Files.write(photo, ByteArray(4096) { (it * 31).toByte() })
        val outcome = MigruSession.open(photo.toString())
        assertTrue(outcome is Outcome.Failed, "$outcome")
        outcome as Outcome.Failed
        assertTrue(outcome.message.contains("grown-up"), outcome.message)
        assertFalse(outcome.canRetry)
        dir.toFile().deleteRecursively()
    }

    @Test
    fun `a missing import file can be retried`() = runBlocking<Unit> {
        val dir = Files.createTempDirectory("migru-session")
        ok(MigruSession.open(dir.resolve("migru.db").toString())).use { session ->
            val outcome = session.import(dir.resolve("nope.jsonl").toString()) {}
            assertTrue(outcome is Outcome.Failed && outcome.canRetry, "$outcome")
            val sibling = ok(session.forChild("sibling"))
            ok(sibling.say("hello from the sibling"))
            assertEquals(0, ok(session.history()).size, "each child has their own history")
            sibling.close()
        }
        dir.toFile().deleteRecursively()
    }
}
