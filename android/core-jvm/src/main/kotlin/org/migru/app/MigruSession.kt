package org.migru.app

import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import java.util.Locale
import org.migru.core.ConversationTurn
import org.migru.core.ImportProgress
import org.migru.core.ImportReport
import org.migru.core.LoggedEvent
import org.migru.core.MigruException
import org.migru.core.Outlook
import org.migru.core.Stats
import org.migru.core.SyncProgress
import org.migru.core.TurnDecision
import org.migru.core.MigruCompanion as Core

/**
 * What the apps' screens need from the Rust core, kept off the UI thread and with errors turned
 * into words a child or parent can read. Plain Kotlin (no Android types), so it is tested on the
 * JVM against the real library; the Android apps compile this same file.
 */
class MigruSession private constructor(
    private val core: Core,
    private val io: CoroutineDispatcher,
) : AutoCloseable {

    /**
     * The talk screen: stores what the child wrote, now, and says what Migru has to say about it
     * (a red flag at once, an insight when the policy and the child's windows allow, or quiet).
     */
    suspend fun say(text: String, language: String = Locale.getDefault().language): Outcome<ConversationTurn> =
        call { core.converse(text, null, language) }

    /** The quick symptom log: how much it hurts (0–10) and, if the child wants, where or how. */
    suspend fun logSymptom(intensity: Int, words: String?): Outcome<LoggedEvent> = call {
        require(intensity in 0..10) { "intensity must be 0 to 10" }
        core.logSymptom(intensity.toUByte(), words, null)
    }

    /** The conversation so far, oldest first. */
    suspend fun history(limit: Int = DEFAULT_HISTORY): Outcome<List<LoggedEvent>> =
        call { core.recentEvents(limit.coerceIn(0, MAX_HISTORY).toUInt()) }

    suspend fun stats(): Outcome<Stats> = call { core.stats() }

    /** The next 24 h for the parent's child view: stress, tonight's sleep, the headache risk. */
    suspend fun outlook(): Outcome<Outlook> = call { core.forecastAsync(null, null, false) }

    /** Imports a JSON Lines file (a backup, or data from another device) on the library's runtime. */
    suspend fun import(path: String, onProgress: (imported: Long) -> Unit): Outcome<ImportReport> {
        val progress = object : ImportProgress {
            override fun onProgress(imported: ULong, skipped: ULong, duplicates: ULong) = onProgress(imported.toLong())
        }
        return call { core.importFileAsync(path, progress) }
    }

    suspend fun export(path: String): Outcome<Long> = call { core.exportFile(path).toLong() }

    /** The settings screen's "delete everything on this phone". */
    suspend fun deleteEverything(): Outcome<Unit> = call { core.deleteAll() }

    /** Applies the retention window; the app calls it once a day. */
    suspend fun purge(): Outcome<Long> = call { core.purgeExpired().toLong() }

    /** The same database, seen as another child (the parent app follows each child). */
    fun forChild(user: String): Outcome<MigruSession> = try {
        Outcome.Ok(MigruSession(core.forUser(user), io))
    } catch (e: MigruException) {
        failed(e)
    }

    override fun close() = core.close()

    /** Pushes this phone's new entries to the family's server and pulls what the family shares. */
    suspend fun sync(link: FamilyLink): Outcome<SyncProgress> = call {
        val token = requireNotNull(link.token) { "this phone has not joined a family yet" }
        core.sync(link.serverUrl, token, null, null)
    }

    private suspend fun <T> call(block: suspend () -> T): Outcome<T> = outcomeOf(io, block)

    companion object {
        const val DEFAULT_HISTORY = 50
        const val MAX_HISTORY = 1_000

        /** Opens (or creates) the database; a file that is not Migru's is refused and left alone. */
        suspend fun open(databasePath: String, io: CoroutineDispatcher = Dispatchers.IO): Outcome<MigruSession> =
            withContext(io) {
                try {
                    Outcome.Ok(MigruSession(Core.open(databasePath), io))
                } catch (e: MigruException) {
                    failed(e)
                }
            }

        /** Words for the screen; the technical reason goes to the log through the library. */
        fun failed(e: MigruException): Outcome.Failed = when (e) {
            is MigruException.InvalidInput -> Outcome.Failed("Hmm, that didn't work: ${e.reason}", canRetry = false)
            is MigruException.Io -> Outcome.Failed("I couldn't read or write that file. Please try again.", canRetry = true)
            is MigruException.NotAMigruDatabase ->
                Outcome.Failed("Migru's notebook on this phone can't be opened. Please ask a grown-up.", canRetry = false)
            is MigruException.ModelUnavailable ->
                Outcome.Failed("Migru will use its prepared replies for now.", canRetry = false)
            is MigruException.Network -> Outcome.Failed("No connection right now. Migru will try again later.", canRetry = true)
            is MigruException.Unauthorized ->
                Outcome.Failed("This phone needs to be paired with the family again. Please ask a grown-up.", canRetry = false)
            is MigruException.UpgradeRequired ->
                Outcome.Failed("Migru needs an update before it can sync. Please ask a grown-up.", canRetry = false)
            is MigruException.Cancelled -> Outcome.Failed("Stopped.", canRetry = true)
            is MigruException.Other -> Outcome.Failed("Something went wrong. Please try again.", canRetry = true)
        }
    }
}

/** Runs [block] on [io]; the library's errors become words for the screen. */
internal suspend fun <T> outcomeOf(io: CoroutineDispatcher, block: suspend () -> T): Outcome<T> = withContext(io) {
    try {
        Outcome.Ok(block())
    } catch (e: MigruException) {
        MigruSession.failed(e)
    } catch (e: IllegalArgumentException) {
        Outcome.Failed(e.message ?: "that did not work", canRetry = false)
    }
}

/** What the child's screen shows after a turn: an insight or a red-flag message; null when quiet. */
fun TurnDecision.childWords(): String? = when (this) {
    is TurnDecision.Share -> messageChild
    is TurnDecision.RedFlag -> messageChild
    is TurnDecision.Quiet -> null
}

/** A result a screen can show: the value, or words saying what went wrong and whether retrying may help. */
sealed interface Outcome<out T> {
    data class Ok<out T>(val value: T) : Outcome<T>
    data class Failed(val message: String, val canRetry: Boolean) : Outcome<Nothing>
}
