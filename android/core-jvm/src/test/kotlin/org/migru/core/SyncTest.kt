package org.migru.core

import java.nio.file.Path
import java.util.Collections
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/**
 * `sync` across the FFI against the real migru-server on loopback (`cargo xtask kotlin-test`
 * builds it and passes it as `migru.server.bin`): records go up once however often the phone
 * syncs, the server's changes are kept on the phone and survive reopening it.
 */
class SyncTest {
    private lateinit var server: LoopbackServer
    private val url: String get() = server.url
    private val dir: Path get() = server.dir

    @BeforeEach
    fun start() {
        server = LoopbackServer.start()
    }

    @AfterEach
    fun stop() {
        if (::server.isInitialized) server.close()
    }

    /** A family with a parent and a child device, made through the library; returns the child's token. */
    private suspend fun enrolChild(): String {
        val parent = createFamily(url, "F", "mum")
        assertEquals("parent", parent.role)
        val code = createPairingCode(url, parent.token, "child")
        assertTrue(Regex("[A-Z0-9]{4}-[A-Z0-9]{4}").matches(code.code), code.code)
        val child = pairDevice(url, code.code, "kid")
        assertEquals(Pair("child", parent.familyId), Pair(child.role, child.familyId))
        assertThrows<MigruException.InvalidInput> { runBlocking { pairDevice(url, code.code, "again") } }
        return child.token
    }

    private class Progress : SyncListener {
        val calls: MutableList<SyncProgress> = Collections.synchronizedList(mutableListOf())
        override fun onProgress(progress: SyncProgress) {
            calls.add(progress)
        }
    }

    @Test
    fun `sync twice is idempotent and pulled changes survive reopening`() = runBlocking<Unit> {
        val token = enrolChild()
        val db = dir.resolve("phone.db").toString()
        var phone = MigruCompanion.open(db)
        phone.logSymptom(4u, null, null)
        phone.logSymptom(6u, "behind my eyes", null)
        // A red flag: the server turns it into an alert the family's phones pull.
        phone.logMessage("the worst headache of my life came suddenly", null)
        phone.logMessage("I played with Mia", null)

        val progress = Progress()
        val first = phone.sync(url, token, progress, null)
        assertTrue(first.accepted >= 3uL, "$first")
        assertEquals(0uL, first.refused, "$first")
        assertTrue(progress.calls.isNotEmpty(), "progress reached the listener")
        assertEquals(0uL, phone.stats().outboxPending, "the outbox is empty")
        val alerts = phone.pulledChanges("alert", 10u)
        assertEquals(1, alerts.size, "${phone.pulledChanges(null, 10u)}")
        assertTrue(alerts[0].payload.contains("red_flag_symptom"), alerts[0].payload)

        val second = phone.sync(url, token, null, null)
        assertEquals(Triple(0uL, 0uL, 0uL), Triple(second.accepted, second.duplicate, second.changesPulled), "$second")
        val kept = phone.pulledChanges(null, 100u)
        phone.close()

        phone = MigruCompanion.open(db)
        assertEquals(kept, phone.pulledChanges(null, 100u), "pulled changes persist across reopen")
        assertEquals(0uL, phone.sync(url, token, null, null).changesPulled, "the cursor persisted too")
        phone.close()
    }

    @Test
    fun `a parent lists the family's devices and a revoked phone can no longer sync`() = runBlocking<Unit> {
        val parent = createFamily(url, "F", "dad")
        val child = pairDevice(url, createPairingCode(url, parent.token, "child").code, "tablet")
        val devices = listDevices(url, parent.token)
        assertEquals(listOf("dad" to "parent", "tablet" to "child"), devices.map { it.name to it.role })
        assertTrue(devices.all { it.revokedAtMs == null })

        revokeDevice(url, parent.token, child.deviceId)
        assertTrue(listDevices(url, parent.token).single { it.id == child.deviceId }.revokedAtMs != null)
        val phone = MigruCompanion.open(dir.resolve("tablet.db").toString())
        phone.logSymptom(2u, null, null)
        assertThrows<MigruException.Unauthorized> { runBlocking { phone.sync(url, child.token, null, null) } }
        assertThrows<MigruException.InvalidInput> { runBlocking { revokeDevice(url, parent.token, "no-such-device") } }
        phone.close()
    }

    @Test
    fun `a revoked or unknown token is Unauthorized and a cancelled sync loses nothing`() = runBlocking<Unit> {
        val phone = MigruCompanion.open(dir.resolve("phone.db").toString())
        phone.logSymptom(3u, null, null)
        assertThrows<MigruException.Unauthorized> { runBlocking { phone.sync(url, "not-a-token", null, null) } }
        assertThrows<MigruException.Unauthorized> { runBlocking { createPairingCode(url, "not-a-token", "child") } }
        val child = enrolChild()
        val refused = assertThrows<MigruException.InvalidInput> { runBlocking { createPairingCode(url, child, "parent") } }
        assertTrue(refused.reason.startsWith("pairing code"), refused.reason)
        val cancel = CancelHandle()
        cancel.cancel()
        assertThrows<MigruException.Cancelled> { runBlocking { phone.sync(url, enrolChild(), null, cancel) } }
        assertEquals(1uL, phone.stats().outboxPending)
        phone.close()
    }
}
