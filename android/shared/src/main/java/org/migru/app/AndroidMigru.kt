package org.migru.app

import android.content.Context
import android.util.Log
import org.migru.core.LogLevel
import org.migru.core.LogSink
import org.migru.core.initLogging

/** Android start-up for the Rust core: its logs go to Logcat, its database to app-private storage. */
object AndroidMigru {
    private const val TAG = "migru"
    private const val PREFS = "migru"
    private const val SERVER_URL = "server_url"

    /** Idempotent: the library keeps the first sink for the life of the process. */
    fun initLogging(debug: Boolean) {
        initLogging(if (debug) LogLevel.DEBUG else LogLevel.INFO, LogcatSink)
    }

    /** The database lives in no-backup storage: raw words stay on this phone. */
    fun databasePath(context: Context): String = context.noBackupFilesDir.resolve("migru.db").path

    /** The family's server this phone uses, or null before the family is set up. */
    fun serverUrl(context: Context): String? =
        context.getSharedPreferences(PREFS, Context.MODE_PRIVATE).getString(SERVER_URL, null)

    /** Remembers the family's server and returns this phone's link to it (token in no-backup storage). */
    fun familyLink(context: Context, serverUrl: String): FamilyLink {
        context.getSharedPreferences(PREFS, Context.MODE_PRIVATE).edit().putString(SERVER_URL, serverUrl.trim()).apply()
        return FamilyLink(serverUrl.trim(), context.noBackupFilesDir.resolve("family/token"))
    }

    /**
     * What every screen's view model does first: logging to Logcat, then this app's database.
     * Returns the session, or null after telling [onProblem] in words for the screen.
     */
    suspend fun openSession(context: Context, onProblem: (String) -> Unit): MigruSession? {
        initLogging(debug = false)
        return when (val opened = MigruSession.open(databasePath(context))) {
            is Outcome.Ok -> opened.value
            is Outcome.Failed -> null.also { onProblem(opened.message) }
        }
    }

    private object LogcatSink : LogSink {
        override fun log(level: LogLevel, target: String, message: String) {
            val priority = when (level) {
                LogLevel.ERROR -> Log.ERROR
                LogLevel.WARN -> Log.WARN
                LogLevel.INFO -> Log.INFO
                LogLevel.DEBUG -> Log.DEBUG
                LogLevel.TRACE -> Log.VERBOSE
            }
            Log.println(priority, TAG, "$target: $message")
        }
    }
}
