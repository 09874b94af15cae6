package org.migru.app

import java.io.File
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import org.migru.core.Enrolment
import org.migru.core.FamilyDevice
import org.migru.core.PairingCode
import org.migru.core.createFamily
import org.migru.core.createPairingCode
import org.migru.core.listDevices
import org.migru.core.pairDevice
import org.migru.core.revokeDevice

/**
 * This phone's place in its family: the family's server and this phone's token. The token is
 * shown once by the server (which keeps only its hash), so it lives in [tokenFile]: app-private
 * storage that is not backed up (Android's no-backup folder), readable by this app only.
 */
class FamilyLink(
    val serverUrl: String,
    private val tokenFile: File,
    private val io: CoroutineDispatcher = Dispatchers.IO,
) {
    /** Null until this phone created or joined a family. */
    val token: String? get() = tokenFile.takeIf { it.isFile }?.readText()?.trim()?.ifEmpty { null }

    val joined: Boolean get() = token != null

    /** The parent's first phone: creates the family with this phone as its parent. */
    suspend fun createFamily(familyName: String, deviceName: String): Outcome<Enrolment> =
        outcomeOf(io) { createFamily(serverUrl, familyName, deviceName).also { keep(it) } }

    /** A one-time code (10 minutes) a parent shows to a new `child` or `parent` phone. */
    suspend fun pairingCode(role: String = "child"): Outcome<PairingCode> =
        outcomeOf(io) { createPairingCode(serverUrl, requireToken(), role) }

    /** A new phone joins with the code a parent shows. */
    suspend fun join(code: String, deviceName: String): Outcome<Enrolment> =
        outcomeOf(io) { pairDevice(serverUrl, code, deviceName).also { keep(it) } }

    /** The family's phones, removed ones included (parents only). */
    suspend fun devices(): Outcome<List<FamilyDevice>> = outcomeOf(io) { listDevices(serverUrl, requireToken()) }

    /** Removes a phone from the family at once: it can no longer sync (parents only). */
    suspend fun remove(deviceId: String): Outcome<Unit> = outcomeOf(io) { revokeDevice(serverUrl, requireToken(), deviceId) }

    private fun requireToken(): String = requireNotNull(token) { "this phone has not joined a family yet" }

    private fun keep(enrolment: Enrolment) {
        tokenFile.parentFile?.mkdirs()
        val partial = File(tokenFile.path + ".part")
        partial.writeText(enrolment.token)
        // Owner only, before it gets its real name.
        partial.setReadable(false, false)
        partial.setReadable(true, true)
        partial.setWritable(false, false)
        partial.setWritable(true, true)
        check(partial.renameTo(tokenFile)) { "could not keep this phone's token" }
    }
}
