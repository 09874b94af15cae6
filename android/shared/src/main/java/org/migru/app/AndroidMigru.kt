package org.migru.app

import android.content.Context
import android.util.Log
import org.migru.core.LogLevel
import org.migru.core.LogSink
import org.migru.core.initLogging

/** Android start-up for the Rust core: its logs go to Logcat, its database to app-private storage. */
object AndroidMigru {
    private const val TAG = "migru"

    /** Idempotent: the library keeps the first sink for the life of the process. */
    fun initLogging(debug: Boolean) {
        initLogging(if (debug) LogLevel.DEBUG else LogLevel.INFO, LogcatSink)
    }

    /** The database lives in no-backup storage: raw words stay on this phone. */
    fun databasePath(context: Context): String = context.noBackupFilesDir.resolve("migru.db").path

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
