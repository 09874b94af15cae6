package org.migru.child

import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.activity.viewModels
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.foundation.lazy.rememberLazyListState
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.NavigationBar
import androidx.compose.material3.NavigationBarItem
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Slider
import androidx.compose.material3.SnackbarHost
import androidx.compose.material3.SnackbarHostState
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableFloatStateOf
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import org.migru.core.LoggedEvent
import org.migru.core.Stats
import kotlin.math.roundToInt

class ChildActivity : ComponentActivity() {
    private val model: ChildViewModel by viewModels()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContent { MaterialTheme { ChildApp(model) } }
    }
}

private enum class Tab(val label: String) { Talk("Talk"), Symptom("How I feel"), Stats("My notes") }

@Composable
private fun ChildApp(model: ChildViewModel) {
    val state by model.state.collectAsStateWithLifecycle()
    var tab by rememberSaveable { mutableStateOf(Tab.Talk) }
    val snackbar = remember { SnackbarHostState() }
    LaunchedEffect(state.problem) {
        state.problem?.let {
            snackbar.showSnackbar(it)
            model.problemShown()
        }
    }
    Scaffold(
        snackbarHost = { SnackbarHost(snackbar) },
        bottomBar = {
            NavigationBar {
                Tab.entries.forEach { t ->
                    NavigationBarItem(selected = t == tab, onClick = { tab = t }, icon = {}, label = { Text(t.label) })
                }
            }
        },
    ) { padding ->
        Column(Modifier.padding(padding).padding(16.dp)) {
            when (tab) {
                Tab.Talk -> TalkScreen(state.history, state.migruSays, enabled = state.ready, onSend = model::say)
                Tab.Symptom -> SymptomScreen(enabled = state.ready, onSave = model::logSymptom)
                Tab.Stats -> {
                    StatsScreen(state.stats)
                    if (!state.joined) JoinFamily(enabled = state.ready, onJoin = model::joinFamily)
                }
            }
        }
    }
}

@Composable
private fun TalkScreen(history: List<LoggedEvent>, migruSays: String?, enabled: Boolean, onSend: (String) -> Unit) {
    var draft by rememberSaveable { mutableStateOf("") }
    val list = rememberLazyListState()
    LaunchedEffect(history.size) { if (history.isNotEmpty()) list.animateScrollToItem(history.lastIndex) }
    Column(Modifier.fillMaxSize()) {
        LazyColumn(Modifier.weight(1f).fillMaxWidth(), state = list, verticalArrangement = Arrangement.spacedBy(8.dp)) {
            items(history, key = { it.id }) { event -> HistoryItem(event) }
            migruSays?.let { words -> item(key = "migru-says") { MigruSays(words) } }
        }
        Row(Modifier.fillMaxWidth(), horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            OutlinedTextField(draft, { draft = it }, Modifier.weight(1f), placeholder = { Text("Tell Migru…") })
            Button(
                onClick = { onSend(draft); draft = "" },
                enabled = enabled && draft.isNotBlank(),
            ) { Text("Send") }
        }
    }
}

/** Migru's own words after the last message: an insight or what to do about a red flag. */
@Composable
private fun MigruSays(words: String) {
    Card(Modifier.fillMaxWidth(), colors = CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.secondaryContainer)) {
        Text(words, Modifier.padding(12.dp), style = MaterialTheme.typography.bodyLarge)
    }
}

@Composable
private fun HistoryItem(event: LoggedEvent) {
    val line = when (event.kind) {
        "symptom" -> "It hurt ${event.intensity} of 10" + (event.text?.let { ": $it" } ?: "")
        else -> event.text ?: event.kind
    }
    Card(Modifier.fillMaxWidth()) {
        Column(Modifier.padding(12.dp)) {
            Text(line, style = MaterialTheme.typography.bodyLarge)
            Text(event.ts.take(16).replace('T', ' '), style = MaterialTheme.typography.labelSmall)
        }
    }
}

@Composable
private fun SymptomScreen(enabled: Boolean, onSave: (Int, String?) -> Unit) {
    var intensity by rememberSaveable { mutableFloatStateOf(5f) }
    var words by rememberSaveable { mutableStateOf("") }
    var saved by rememberSaveable { mutableStateOf(false) }
    Column(verticalArrangement = Arrangement.spacedBy(16.dp)) {
        Text("How much does it hurt?", style = MaterialTheme.typography.headlineSmall)
        Text("${intensity.roundToInt()} of 10", style = MaterialTheme.typography.displaySmall)
        Slider(intensity, { intensity = it; saved = false }, valueRange = 0f..10f, steps = 9)
        OutlinedTextField(words, { words = it; saved = false }, Modifier.fillMaxWidth(), label = { Text("Where, or what it feels like (optional)") })
        Button(onClick = {
            onSave(intensity.roundToInt(), words.ifBlank { null })
            words = ""
            saved = true
        }, enabled = enabled && !saved) { Text(if (saved) "Saved. Thank you!" else "Save") }
    }
}

@Composable
private fun StatsScreen(stats: Stats?) {
    if (stats == null) {
        Text("Nothing written down yet.")
        return
    }
    Column(verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Text("Things I told Migru: ${stats.byKind["message"] ?: 0uL}", style = MaterialTheme.typography.titleMedium)
        Text("Times I logged how I feel: ${stats.byKind["symptom"] ?: 0uL}", style = MaterialTheme.typography.titleMedium)
        stats.firstTs?.let { Text("Since ${it.take(10)}") }
        Text("Your own words stay on this phone. Once you join your family, they see how you feel, not what you wrote.", style = MaterialTheme.typography.bodySmall)
    }
}

/** Joining the family with the code a parent's phone shows. */
@Composable
private fun JoinFamily(enabled: Boolean, onJoin: (serverUrl: String, code: String) -> Unit) {
    var url by rememberSaveable { mutableStateOf("") }
    var code by rememberSaveable { mutableStateOf("") }
    Card(Modifier.fillMaxWidth().padding(top = 16.dp)) {
        Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            Text("Join my family", style = MaterialTheme.typography.titleMedium)
            Text("Ask a grown-up for the code on their phone.", style = MaterialTheme.typography.bodySmall)
            OutlinedTextField(url, { url = it }, Modifier.fillMaxWidth(), label = { Text("Family server") })
            OutlinedTextField(code, { code = it.uppercase() }, Modifier.fillMaxWidth(), label = { Text("Code") })
            Button(onClick = { onJoin(url, code) }, enabled = enabled && url.isNotBlank() && code.isNotBlank()) { Text("Join") }
        }
    }
}
