package org.migru.core

import java.net.ServerSocket
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.TimeUnit
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assumptions.assumeTrue

/**
 * The real migru-server on a free loopback port with a SQLite file in a temporary folder
 * (`cargo xtask kotlin-test` builds it and passes it as `migru.server.bin`; without it the test
 * is skipped, and CI always passes it). Closing stops the server and removes the folder.
 */
class LoopbackServer private constructor(val dir: Path, private val process: Process, val url: String) : AutoCloseable {
    override fun close() {
        process.destroy()
        process.waitFor(10, TimeUnit.SECONDS)
        dir.toFile().deleteRecursively()
    }

    fun log(): String = runCatching { Files.readString(dir.resolve("server.log")) }.getOrDefault("")

    companion object {
        fun start(): LoopbackServer {
            val binary = System.getProperty("migru.server.bin").orEmpty()
            assumeTrue(binary.isNotBlank(), "needs migru.server.bin (cargo xtask kotlin-test passes it)")
            val dir = Files.createTempDirectory("migru-server-test")
            val port = ServerSocket(0).use { it.localPort }
            val process = ProcessBuilder(
                binary, "serve", "--listen", "127.0.0.1:$port", "--database-url", "sqlite:${dir.resolve("server.db")}",
            ).redirectErrorStream(true).redirectOutput(dir.resolve("server.log").toFile()).start()
            val server = LoopbackServer(dir, process, "http://127.0.0.1:$port")
            val http = HttpClient.newHttpClient()
            val health = HttpRequest.newBuilder(URI.create("${server.url}/healthz")).GET().build()
            val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30)
            while (true) {
                val up = runCatching { http.send(health, HttpResponse.BodyHandlers.ofString()).statusCode() == 200 }.getOrDefault(false)
                if (up) return server
                assertTrue(process.isAlive && System.nanoTime() < deadline, "the server did not start: ${server.log()}")
                Thread.sleep(50)
            }
        }
    }
}
