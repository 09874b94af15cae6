package org.migru.core

import java.net.ServerSocket
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.nio.file.Path
import java.util.Collections
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/**
 * `sync` across the FFI against the real migru-server on loopback (`cargo xtask kotlin-test`
 * builds it and passes it as `migru.server.bin`): records go up once however often the phone
 * syncs, the server's changes are kept on the phone and survive reopening it.
 */
class SyncTest {
    private lateinit var dir: Path
    private lateinit var server: Process
    private lateinit var url: String
    private val http = HttpClient.newHttpClient()

    @BeforeEach
    fun start() {
        val binary = System.getProperty("migru.server.bin").orEmpty()
        assumeTrue(binary.isNotBlank(), "needs migru.server.bin (cargo xtask kotlin-test passes it)")
        dir = Files.createTempDirectory("migru-sync-test")
        val port = ServerSocket(0).use { it.localPort }
        url = "http://127.0.0.1:$port"
        server = ProcessBuilder(
            binary, "serve", "--listen", "127.0.0.1:$port", "--database-url", "sqlite:${dir.resolve("server.db")}",
        ).redirectErrorStream(true).redirectOutput(dir.resolve("server.log").toFile()).start()
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30)
        while (true) {
            val up = runCatching { get("/healthz").statusCode() == 200 }.getOrDefault(false)
            if (up) break
            assertTrue(server.isAlive && System.nanoTime() < deadline, "the server did not start: ${log()}")
            Thread.sleep(50)
        }
    }

    @AfterEach
    fun stop() {
        if (::server.isInitialized) {
            server.destroy()
            server.waitFor(10, TimeUnit.SECONDS)
            dir.toFile().deleteRecursively()
        }
    }

    private fun log(): String = runCatching { Files.readString(dir.resolve("server.log")) }.getOrDefault("")

    private fun get(path: String): HttpResponse<String> =
        http.send(HttpRequest.newBuilder(URI.create(url + path)).GET().build(), HttpResponse.BodyHandlers.ofString())

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
