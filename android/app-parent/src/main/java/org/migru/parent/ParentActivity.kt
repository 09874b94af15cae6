package org.migru.parent

import android.app.Application
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.activity.viewModels
import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import kotlin.math.roundToInt
import org.migru.app.AndroidMigru
import org.migru.app.MigruSession
import org.migru.app.Outcome
import org.migru.core.LoggedEvent
import org.migru.core.Outlook
import org.migru.core.Stats

/**
 * The parent app's overview of what this device holds, child by child. Pairing, alerts,
 * forecasts and recommendations arrive with the sync and insight layers of the core.
 */
data class ParentState(
    val stats: Stats? = null,
    val child: String? = null,
    val symptoms: List<LoggedEvent> = emptyList(),
    val outlook: Outlook? = null,
    val problem: String? = null,
)

class ParentViewModel(app: Application) : AndroidViewModel(app) {
    private val _state = MutableStateFlow(ParentState())
    val state: StateFlow<ParentState> = _state
    private var session: MigruSession? = null

    init {
        viewModelScope.launch {
            val opened = AndroidMigru.openSession(app) { words -> _state.update { it.copy(problem = words) } }
            session = opened ?: return@launch
            when (val stats = opened.stats()) {
                is Outcome.Ok -> _state.update { it.copy(stats = stats.value) }
                is Outcome.Failed -> _state.update { it.copy(problem = stats.message) }
            }
        }
    }

    /** Shows one child's symptom log, newest first. */
    fun select(user: String) {
        val child = session?.forChild(user) as? Outcome.Ok ?: return
        viewModelScope.launch {
            child.value.use { s ->
                when (val history = s.history(MigruSession.MAX_HISTORY)) {
                    is Outcome.Ok -> _state.update { st ->
                        st.copy(child = user, symptoms = history.value.filter { it.kind == "symptom" }.reversed())
                    }
                    is Outcome.Failed -> _state.update { it.copy(problem = history.message) }
                }
                when (val outlook = s.outlook()) {
                    is Outcome.Ok -> _state.update { it.copy(outlook = outlook.value) }
                    is Outcome.Failed -> _state.update { it.copy(outlook = null, problem = outlook.message) }
                }
            }
        }
    }

    override fun onCleared() {
        session?.close()
        session = null
    }
}

class ParentActivity : ComponentActivity() {
    private val model: ParentViewModel by viewModels()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContent { MaterialTheme { ParentScreen(model) } }
    }
}

@Composable
private fun ParentScreen(model: ParentViewModel) {
    val state by model.state.collectAsStateWithLifecycle()
    Column(Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        Text("Migru", style = MaterialTheme.typography.headlineMedium)
        state.problem?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        val stats = state.stats
        if (stats == null || stats.users.isEmpty()) {
            Text("No entries yet. Pair with your child's phone to see how they are doing.")
            return@Column
        }
        Text("Entries on this phone: ${stats.events} · waiting to sync: ${stats.outboxPending}")
        stats.users.forEach { user ->
            Text(user, Modifier.fillMaxWidth().clickable { model.select(user) }.padding(8.dp), style = MaterialTheme.typography.titleMedium)
        }
        state.child?.let { child ->
            state.outlook?.let { outlook ->
                Text("$child: next 24 hours", style = MaterialTheme.typography.titleLarge)
                val risk = outlook.migraineRisk
                Text("Headache risk: ${risk.level.name.lowercase()} (${(risk.probability * 100).roundToInt()} %)")
                outlook.sleep?.let { Text("Sleep tonight: ${it.onset.substring(11, 16)} – ${it.wake.substring(11, 16)}") }
                outlook.stress.maxByOrNull { it.value }?.let { Text("Most stress around ${it.ts.substring(11, 16)}") }
            }
            Text("$child: symptoms", style = MaterialTheme.typography.titleLarge)
            if (state.symptoms.isEmpty()) Text("No symptoms logged.")
            LazyColumn(verticalArrangement = Arrangement.spacedBy(4.dp)) {
                items(state.symptoms, key = { it.id }) { event ->
                    Row(Modifier.fillMaxWidth(), horizontalArrangement = Arrangement.SpaceBetween) {
                        Text(event.ts.take(16).replace('T', ' '))
                        Text("${event.intensity ?: "–"}/10", style = MaterialTheme.typography.titleMedium)
                    }
                }
            }
        }
    }
}
