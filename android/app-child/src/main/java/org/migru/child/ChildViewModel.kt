package org.migru.child

import android.app.Application
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import org.migru.app.AndroidMigru
import org.migru.app.FamilyLink
import org.migru.app.MigruSession
import org.migru.app.Outcome
import org.migru.app.childWords
import org.migru.core.LoggedEvent
import org.migru.core.Stats

/** Everything the child's screens show, from the on-device store. */
data class ChildState(
    val history: List<LoggedEvent> = emptyList(),
    val stats: Stats? = null,
    /** What Migru said after the child's last message (an insight or a red-flag message). */
    val migruSays: String? = null,
    /** Words for a snackbar when something did not work. */
    val problem: String? = null,
    val ready: Boolean = false,
    /** Whether this phone has joined the family (then new entries sync after each one). */
    val joined: Boolean = false,
)

class ChildViewModel(app: Application) : AndroidViewModel(app) {
    private val _state = MutableStateFlow(ChildState())
    val state: StateFlow<ChildState> = _state
    private var session: MigruSession? = null
    private var link: FamilyLink? = null

    init {
        AndroidMigru.serverUrl(app)?.let { url -> link = AndroidMigru.familyLink(app, url) }
        _state.update { it.copy(joined = link?.joined == true) }
        viewModelScope.launch {
            val opened = AndroidMigru.openSession(app) { words -> _state.update { it.copy(problem = words) } }
            session = opened ?: return@launch
            opened.purge()
            refresh()
        }
    }

    /** The talk screen's send button: stores the words, then shows what Migru has to say. */
    fun say(text: String) = act { session ->
        session.say(text).also { outcome ->
            if (outcome is Outcome.Ok) _state.update { it.copy(migruSays = outcome.value.decision.childWords()) }
        }
    }

    /** The quick symptom log's save button. */
    fun logSymptom(intensity: Int, words: String?) = act { it.logSymptom(intensity, words) }

    fun problemShown() = _state.update { it.copy(problem = null) }

    /** Joins the family with the code a parent's phone shows. */
    fun joinFamily(serverUrl: String, code: String) {
        val family = AndroidMigru.familyLink(getApplication(), serverUrl).also { link = it }
        act { session ->
            family.join(code, "Child's phone").also { if (it is Outcome.Ok) _state.update { st -> st.copy(joined = true) } }
            session.sync(family)
        }
    }

    /** After each entry: a quiet sync (the next one retries what did not go up). */
    private suspend fun syncQuietly(session: MigruSession) {
        val family = link?.takeIf { it.joined } ?: return
        val outcome = session.sync(family)
        if (outcome is Outcome.Failed && !outcome.canRetry) _state.update { it.copy(problem = outcome.message) }
    }

    private fun act(block: suspend (MigruSession) -> Outcome<*>) {
        val session = session ?: return
        viewModelScope.launch {
            val outcome = block(session)
            if (outcome is Outcome.Failed) _state.update { it.copy(problem = outcome.message) }
            refresh()
            syncQuietly(session)
        }
    }

    private suspend fun refresh() {
        val session = session ?: return
        val history = session.history()
        val stats = session.stats()
        _state.update {
            it.copy(
                history = (history as? Outcome.Ok)?.value ?: it.history,
                stats = (stats as? Outcome.Ok)?.value ?: it.stats,
                problem = (history as? Outcome.Failed)?.message ?: it.problem,
                ready = true,
            )
        }
    }

    override fun onCleared() {
        session?.close()
        session = null
    }
}
