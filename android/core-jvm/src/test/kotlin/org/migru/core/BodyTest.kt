package org.migru.core

import java.io.File
import java.time.DayOfWeek
import java.time.OffsetDateTime
import java.time.format.DateTimeFormatter
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/**
 * The body signals across the FFI, on real data: heart-rate notifications as a band sends them,
 * RR and sleep records imported as JSON Lines, a real actigraphy recording replayed; then sleep,
 * chronotype, HRV, the forecast and the delivery windows read back. Glue only: the numbers are
 * the core's (its own tests check them), here they must arrive intact.
 */
class BodyTest : TempCompanion("migru-body-test") {

    @Test
    fun `heart rate notifications are parsed, aggregated per minute and stored`() {
        val session = companion.wearableSession()
        val t0 = OffsetDateTime.parse("2026-03-02T08:00:00+01:00").toInstant().toEpochMilli()
        // Five minutes at 1 Hz, each notification with one RR interval (flags 0x10: RR follow).
        for (s in 0 until 300) {
            val rr1024 = (if (s % 2 == 0) 800 else 850) * 1024 / 1000
            val bytes = byteArrayOf(0x10, 72, (rr1024 and 0xff).toByte(), (rr1024 shr 8).toByte())
            val outcome = session.onNotification(HEART_RATE, bytes, t0 + s * 1000L)
            assertEquals(2u, outcome.samples, "a heart rate and its RR interval")
            assertNull(outcome.dropped)
        }
        val truncated = session.onNotification(HEART_RATE, byteArrayOf(0x01, 72), t0 + 300_000L)
        assertEquals("truncated", truncated.dropped, "16-bit rate flagged, one byte sent")
        val battery = session.onNotification("00002a19-0000-1000-8000-00805f9b34fb", byteArrayOf(64), t0 + 300_500L)
        assertEquals(64.toUByte(), battery.batteryPercent)
        val stats = session.stats()
        assertEquals(301uL, stats.packetsOk)
        assertEquals(1uL, stats.packetsDropped)
        assertEquals(listOf(DropCount("truncated", 1uL)), stats.drops)

        val summary = session.finishSpan()
        assertEquals(5uL, summary.minutesStored)
        // Shown in the device's offset; the instants are the notifications'.
        assertEquals(t0, OffsetDateTime.parse(summary.firstMinute).toInstant().toEpochMilli())
        assertEquals(t0 + 240_000L, OffsetDateTime.parse(summary.lastMinute).toInstant().toEpochMilli())
        assertEquals(0uL, session.finishSpan().minutesStored, "nothing new since the last close")
        assertThrows<MigruException.InvalidInput> { session.onNotification("heart rate", byteArrayOf(0), null) }
        session.onReconnect()
        session.close()
    }

    @Test
    fun `imported RR and sleep give HRV, the chronotype and later windows for a late child`() {
        assertNull(companion.hrv(null), "no RR intervals yet")
        val before = companion.deliveryTiming("2026-03-23T12:00:00+01:00")
        assertFalse(before.fromChronotype)
        assertTrue(before.note.contains("not yet"), before.note)
        assertEquals("21:00", before.sleepOnset)

        val file = dir.resolve("late-child.jsonl").toFile()
        file.bufferedWriter().use { out ->
            // Three weeks of a late child: school nights 22:30–07:00, free nights 00:30–10:30.
            var wake = OffsetDateTime.parse("2026-03-02T00:00:00+01:00")
            repeat(21) {
                val free = wake.dayOfWeek == DayOfWeek.SATURDAY || wake.dayOfWeek == DayOfWeek.SUNDAY
                val start = if (free) wake.plusMinutes(30) else wake.minusMinutes(90)
                val end = if (free) wake.plusHours(10).plusMinutes(30) else wake.plusHours(7)
                out.write("""{"ts":"${ts(start)}","kind":"sleep","start":"${ts(start)}","end":"${ts(end)}"}""" + "\n")
                wake = wake.plusDays(1)
            }
            // Ten minutes of beats alternating 800/850 ms, four to a record.
            var t = OffsetDateTime.parse("2026-03-22T18:00:00+01:00")
            repeat(181) {
                t = t.plusNanos(3_300_000_000L)
                out.write("""{"ts":"${ts(t)}","kind":"rr","rr_ms":[800,850,800,850]}""" + "\n")
            }
        }
        val report = companion.importFile(file.toString(), null)
        assertEquals(202uL, report.imported)

        val hrv = companion.hrv(5u)!!
        assertEquals(825.0, hrv.meanRrMs, 1e-9)
        assertEquals(50.0, hrv.rmssdMs, 1e-9)
        assertEquals(hrv.records * 4uL, hrv.nBeats)

        val sleep = companion.sleepReport(28u, "2026-03-23T12:00:00+01:00")
        assertEquals(21, sleep.episodes.size)
        assertEquals(listOf("logged"), sleep.episodes.map { it.source }.distinct())
        assertEquals(510.0, sleep.episodes.first().durationMin, "Monday's school night 22:30–07:00")
        assertNull(sleep.episodes.first().efficiencyPct, "nobody measured a logged night's wake bouts")
        val chronotype = sleep.chronotype
        assertEquals(ChronotypeConfidence.MODERATE, chronotype.confidence)
        assertEquals(Chronotype.LATE, chronotype.category)
        assertEquals("04:58", chronotype.msfSc)
        assertEquals(165.0, chronotype.socialJetlagMin, "mid-sleep 02:45 on school nights, 05:30 on free nights")
        assertEquals(6u, chronotype.freeDays)

        val timing = companion.deliveryTiming("2026-03-23T22:15:00+01:00")
        assertTrue(timing.fromChronotype, timing.note)
        assertEquals("00:30", timing.sleepOnset, "a late child's windows move later")
        assertEquals("07:00", timing.wakeSchoolDay)
        assertNull(timing.childClosedNow, "22:15 is still inside this child's window")
        assertEquals(WindowClosed.SCHOOL_MORNING, companion.deliveryTiming("2026-03-24T07:30:00+01:00").childClosedNow)
    }

    @Test
    fun `a real actigraphy recording replays into nights and a forecast with its backtest`() {
        val fixture = File(System.getProperty("user.dir"), "../../core/tests/fixtures/forecast/actigraphy_example_03.jsonl")
        assertTrue(fixture.isFile, "fixture at $fixture")
        val summary = companion.replaySensorFile(fixture.canonicalPath)
        assertEquals(21_456uL, summary.minutesStored)
        assertTrue(summary.sleepEpisodesStored >= 10uL, "${summary.sleepEpisodesStored}")
        val end = summary.lastMinute!!

        val outlook = companion.forecast(null, end, true)
        assertTrue(outlook.stress.isEmpty(), "activity counts only: no stress")
        assertNotNull(outlook.stressNote)
        assertNull(outlook.stressBacktest)
        val backtest = outlook.sleepBacktest!!
        assertTrue(backtest.points >= 8u, "$backtest")
        assertTrue(backtest.mae < backtest.naiveMae, "beats the same night a week earlier: $backtest")
        assertNotNull(outlook.sleep)
        assertTrue(outlook.migraineRisk.probability in 0.0..1.0)
        assertEquals("not_yet", outlook.migraineRisk.confidence)
    }

    @Test
    fun `bad arguments are refused with a reason`() {
        val window = assertThrows<MigruException.InvalidInput> { companion.hrv(0u) }
        assertTrue(window.reason.startsWith("window_min"), window.reason)
        assertThrows<MigruException.InvalidInput> { companion.sleepReport(0u, null) }
        val now = assertThrows<MigruException.InvalidInput> { companion.forecast(null, "tomorrow", false) }
        assertTrue(now.reason.startsWith("now:"), now.reason)
        assertThrows<MigruException.Io> { companion.replaySensorFile(dir.resolve("missing.jsonl").toString()) }
    }

    private fun ts(t: OffsetDateTime): String = t.format(DateTimeFormatter.ISO_OFFSET_DATE_TIME)

    private companion object {
        const val HEART_RATE = "00002a37-0000-1000-8000-00805f9b34fb"
    }
}
