package org.migru.core

import java.io.File
import java.nio.file.Files
import java.nio.file.Path
import java.util.Collections
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows

/**
 * The glue, not the logic again: every exported call of migru-ffi is made once from Kotlin
 * against the real Rust library, and its result checked against what the core promises.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CompanionTest : TempCompanion("migru-ffi-test") {

    /** Log lines the library sent to the foreign sink (any thread). */
    private val logged: MutableList<String> = Collections.synchronizedList(mutableListOf())

    @BeforeAll
    fun logging() {
        val sink = object : LogSink {
            override fun log(level: LogLevel, target: String, message: String) {
                logged.add("$level $target $message")
            }
        }
        assertTrue(initLogging(LogLevel.INFO, sink), "the first init installs logging")
        assertFalse(initLogging(LogLevel.DEBUG, null), "a second init changes nothing")
    }

    @Test
    fun `converse stores the words and answers a red flag at once, otherwise by the policy`() {
        val first = companion.converse("my head hurts a bit", "2026-03-14T16:00:00+01:00", "en")
        assertEquals("my head hurts a bit", first.event.text)
        assertEquals(TurnDecision.Quiet("too_early"), first.decision, "no insight before 3 conversations")

        val urgent = companion.converse("worst headache of my life, it came on suddenly", "2026-03-14T16:05:00+01:00", "de")
        val flag = urgent.decision
        assertTrue(flag is TurnDecision.RedFlag, "$flag")
        flag as TurnDecision.RedFlag
        assertTrue(flag.family.isNotBlank() && flag.messageChild.isNotBlank() && flag.messageParent.isNotBlank(), "$flag")
        assertEquals(2uL, companion.stats().events, "both turns are stored")

        val empty = assertThrows<MigruException.InvalidInput> { companion.converse("   ", null, null) }
        assertTrue(empty.reason.contains("empty"), empty.reason)
    }

    @Test
    fun `log message returns the stored record`() {
        val event = companion.logMessage("  my head hurts a bit  ", "2026-03-14T08:30:00+01:00")
        assertTrue(event.kind in TALK_KINDS, "the kind the core classified the words as: ${event.kind}")
        assertEquals("my head hurts a bit", event.text, "text is trimmed")
        assertEquals("2026-03-14T08:30:00+01:00", event.ts, "the child's offset is kept")
        assertEquals(36, event.id.length)
        assertEquals('7', event.id[14], "ids are UUIDv7")
        assertTrue(event.newlyStored)

        val again = companion.logMessage("my head hurts a bit", "2026-03-14T08:30:00+01:00")
        assertEquals(event.id, again.id, "the same record has the same id")
        assertFalse(again.newlyStored)
    }

    @Test
    fun `log message without a time uses now`() {
        val before = System.currentTimeMillis()
        val event = companion.logMessage("hello", null)
        val ts = java.time.OffsetDateTime.parse(event.ts).toInstant().toEpochMilli()
        assertTrue(ts in before - 1_000..System.currentTimeMillis() + 1_000, "ts ${event.ts} is now")
    }

    @Test
    fun `quick symptom log and the talk history`() {
        companion.logMessage("I slept badly", "2026-03-14T07:00:00+01:00")
        val symptom = companion.logSymptom(6u, "behind my eyes", "2026-03-14T09:00:00+01:00")
        assertEquals("symptom", symptom.kind)
        assertEquals(6.toUByte(), symptom.intensity)
        companion.logSymptom(2u, "   ", "2026-03-14T12:00:00+01:00")

        val recent = companion.recentEvents(10u)
        assertEquals(3, recent.size)
        assertEquals("I slept badly", recent[0].text, "oldest first")
        assertEquals(listOf("symptom", "symptom"), recent.drop(1).map { it.kind })
        assertNull(recent[2].text, "blank words are no words")
        assertEquals(listOf("symptom", "symptom"), companion.recentEvents(2u).map { it.kind }, "the last two")

        val error = assertThrows<MigruException.InvalidInput> { companion.logSymptom(11u, null, null) }
        assertTrue(error.reason.contains("0 to 10"), error.reason)
    }

    @Test
    fun `invalid input is an InvalidInput with a reason`() {
        val empty = assertThrows<MigruException.InvalidInput> { companion.logMessage("   ", null) }
        assertTrue(empty.reason.contains("empty"), empty.reason)
        val badTime = assertThrows<MigruException.InvalidInput> { companion.logMessage("hi", "yesterday") }
        assertTrue(badTime.reason.startsWith("at:"), badTime.reason)
        assertEquals(0uL, companion.stats().events, "nothing was stored")
    }

    @Test
    fun `import reports progress, counts and bad lines`() {
        val file = jsonl(
            """{"ts":"2026-03-14T08:00:00+01:00","kind":"message","text":"school was loud"}""",
            """{"ts":"2026-03-14T09:00:00+01:00","kind":"symptom","intensity":5}""",
            """not json""",
            """{"ts":"2026-03-14T10:00:00+01:00","kind":"teleport"}""",
            """{"ts":"2026-03-14T11:00:00+01:00","kind":"hr","bpm":88.5}""",
        )
        val progress = Recorder()
        val report = companion.importFile(file.toString(), progress)
        assertEquals(3uL, report.imported)
        assertEquals(2uL, report.skipped)
        assertEquals(listOf(3uL, 4uL), report.errors.map { it.line })
        assertTrue(report.errors[1].reason.contains("kind"), report.errors[1].reason)
        assertEquals(listOf(Triple(3uL, 2uL, 0uL)), progress.calls, "one batch, reported once")

        val twice = companion.importFile(file.toString(), null)
        assertEquals(0uL, twice.imported, "importing a file twice adds nothing")
        assertEquals(3uL, twice.duplicates)
        assertTrue(logged.any { it.startsWith("INFO") && it.contains("import finished") }, "core logs reach the sink")
    }

    @Test
    fun `progress is reported per batch on a large import`() {
        val lines = (0 until 45_000).map { i ->
            """{"ts":"2026-03-14T08:00:00+01:00","kind":"hr","bpm":${60 + i % 40},"n":$i}"""
        }
        val progress = Recorder()
        val report = companion.importFile(jsonl(*lines.toTypedArray()).toString(), progress)
        assertEquals(45_000uL, report.imported)
        assertEquals(listOf(20_000uL, 40_000uL, 45_000uL), progress.calls.map { it.first }, "after each 20,000-record batch")
    }

    @Test
    fun `async import runs on the library runtime`() = runBlocking<Unit> {
        val file = jsonl(
            """{"ts":"2026-03-14T08:00:00+01:00","kind":"relief","strategy":"rest"}""",
            """{"ts":"2026-03-14T20:00:00+01:00","kind":"sleep","start":"2026-03-14T21:00:00+01:00","end":"2026-03-15T07:00:00+01:00"}""",
        )
        val progress = Recorder()
        val report = companion.importFileAsync(file.toString(), progress)
        assertEquals(2uL, report.imported)
        assertEquals(listOf(Triple(2uL, 0uL, 0uL)), progress.calls)
        assertTrue(progress.threads.none { it == Thread.currentThread().name }, "not on the caller's thread")

        val missing = assertThrows<MigruException.Io> {
            runBlocking { companion.importFileAsync(dir.resolve("missing.jsonl").toString(), null) }
        }
        assertTrue(missing.reason.contains("cannot open"), missing.reason)
    }

    @Test
    fun `export writes every record back as JSON Lines`() {
        companion.logMessage("we went swimming", "2026-03-14T16:00:00+01:00")
        companion.logSymptom(3u, null, "2026-03-14T18:00:00+01:00")
        val out = dir.resolve("out.jsonl")
        assertEquals(2uL, companion.exportFile(out.toString()))
        val lines = Files.readAllLines(out)
        assertEquals(2, lines.size)
        assertTrue(lines[0].contains("\"ts\":\"2026-03-14T16:00:00+01:00\"") && lines[0].contains("we went swimming"), lines[0])

        val other = MigruCompanion.open(dir.resolve("copy.db").toString())
        other.use {
            assertEquals(2uL, it.importFile(out.toString(), null).imported)
            val again = dir.resolve("again.jsonl")
            it.exportFile(again.toString())
            assertEquals(lines, Files.readAllLines(again), "export, import, export is stable")
        }
    }

    @Test
    fun `stats count by kind and user`() {
        companion.logMessage("one", "2026-03-14T08:00:00+01:00")
        companion.logSymptom(4u, null, "2026-03-14T09:00:00+01:00")
        val sibling = companion.forUser("sibling")
        assertEquals("sibling", sibling.user())
        assertEquals("local", companion.user())
        sibling.logMessage("two", "2026-03-15T08:00:00+01:00")

        val stats = companion.stats()
        assertEquals(3uL, stats.events)
        assertEquals(mapOf("message" to 2uL, "symptom" to 1uL), stats.byKind)
        assertEquals(listOf("local", "sibling"), stats.users)
        assertEquals("2026-03-14T08:00:00+01:00", stats.firstTs)
        assertEquals("2026-03-15T08:00:00+01:00", stats.lastTs)
        assertTrue(stats.schemaVersion >= 1 && stats.fileBytes > 0uL)
        assertEquals(listOf("two"), sibling.recentEvents(10u).map { it.text }, "each child sees their own")

        assertThrows<MigruException.InvalidInput> { companion.forUser("") }
        sibling.close()
    }

    @Test
    fun `purge removes what is older than the retention window`() {
        companion.logMessage("long ago", "2020-01-01T08:00:00Z")
        companion.logMessage("today", null)
        assertTrue(companion.purgeExpired() >= 1uL)
        assertEquals(listOf("today"), companion.recentEvents(10u).map { it.text })
    }

    @Test
    fun `delete all leaves nothing`() {
        companion.logMessage("secret", null)
        companion.logSymptom(7u, "bad", null)
        companion.deleteAll()
        assertEquals(0uL, companion.stats().events)
        assertTrue(companion.recentEvents(10u).isEmpty())
    }

    @Test
    fun `a file that is not a database is refused and left as it was`() {
        val notes = dir.resolve("notes.txt").toFile()
        val content = "shopping list: milk, bread\n".repeat(200).toByteArray()
        notes.writeBytes(content)
        val error = assertThrows<MigruException.NotAMigruDatabase> { MigruCompanion.open(notes.path) }
        assertTrue(error.reason.contains("untouched"), error.reason)
        assertFalse(error.reason.contains(notes.path), "no paths in reasons")
        assertArrayEquals(content, notes.readBytes(), "the file is unchanged")
        assertFalse(File(notes.path + "-wal").exists(), "no WAL file was created beside it")
    }

    private companion object {
        /** Kinds `logMessage` may store, depending on how the core classifies the words. */
        val TALK_KINDS = setOf("message", "symptom", "relief", "activity")
    }

    private fun jsonl(vararg lines: String): Path {
        val file = Files.createTempFile(dir, "import", ".jsonl")
        Files.write(file, lines.toList())
        return file
    }

    /** Records each progress call and the thread it came on. */
    private class Recorder : ImportProgress {
        val calls: MutableList<Triple<ULong, ULong, ULong>> = Collections.synchronizedList(mutableListOf())
        val threads: MutableList<String> = Collections.synchronizedList(mutableListOf())

        override fun onProgress(imported: ULong, skipped: ULong, duplicates: ULong) {
            calls.add(Triple(imported, skipped, duplicates))
            threads.add(Thread.currentThread().name)
        }
    }
}
