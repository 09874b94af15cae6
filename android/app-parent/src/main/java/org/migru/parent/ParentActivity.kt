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
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.TextButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.setValue
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.mutableStateOf
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
import org.migru.app.FamilyLink
import org.migru.app.MigruSession
import org.migru.app.Outcome
import org.migru.core.FamilyDevice
import org.migru.core.LoggedEvent
import org.migru.core.Outlook
import org.migru.core.Stats

/**
 * The parent app: the family (create it, add a child's phone with a one-time code, remove a
 * phone), sync, and what this device holds child by child with each child's outlook.
 */
data class ParentState(
    val serverUrl: String = "",
    val joined: Boolean = false,
    /** The code to type on the child's phone, while it is valid. */
    val pairingCode: String? = null,
    val devices: List<FamilyDevice> = emptyList(),
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
    private var link: FamilyLink? = null

    init {
        AndroidMigru.serverUrl(app)?.let { url -> link = AndroidMigru.familyLink(app, url) }
        _state.update { it.copy(serverUrl = link?.serverUrl.orEmpty(), joined = link?.joined == true) }
        viewModelScope.launch {
            val opened = AndroidMigru.openSession(app) { words -> _state.update { it.copy(problem = words) } }
            session = opened ?: return@launch
            refreshStats()
            if (link?.joined == true) refreshDevices()
        }
    }

    /** The first parent's phone: the family on the server at [serverUrl]. */
    fun createFamily(serverUrl: String, familyName: String) {
        val family = AndroidMigru.familyLink(getApplication(), serverUrl).also { link = it }
        viewModelScope.launch {
            show(family.createFamily(familyName, "Parent's phone")) { _state.update { it.copy(serverUrl = family.serverUrl, joined = true) } }
            refreshDevices()
        }
    }

    /** A one-time code for the child's phone (valid 10 minutes). */
    fun addChildPhone() {
        val family = link ?: return
        viewModelScope.launch { show(family.pairingCode("child")) { code -> _state.update { it.copy(pairingCode = code.code) } } }
    }

    fun removePhone(deviceId: String) {
        val family = link ?: return
        viewModelScope.launch {
            show(family.remove(deviceId)) {}
            refreshDevices()
        }
    }

    /** Pulls the family's alerts and analyses, and pushes this phone's feedback. */
    fun syncNow() {
        val phone = session ?: return
        val family = link ?: return
        viewModelScope.launch {
            show(phone.sync(family)) {}
            refreshStats()
        }
    }

    private suspend fun refreshStats() {
        show(session?.stats() ?: return) { stats -> _state.update { it.copy(stats = stats) } }
    }

    private suspend fun refreshDevices() {
        show(link?.devices() ?: return) { devices -> _state.update { it.copy(devices = devices) } }
    }

    private inline fun <T> show(outcome: Outcome<T>, onOk: (T) -> Unit) = when (outcome) {
        is Outcome.Ok -> onOk(outcome.value)
        is Outcome.Failed -> _state.update { it.copy(problem = outcome.message) }
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
        FamilyCard(state, model)
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

/** Setting up the family: create it once, then add or remove phones. */
@Composable
private fun FamilyCard(state: ParentState, model: ParentViewModel) {
    Card(Modifier.fillMaxWidth()) {
        Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            if (!state.joined) {
                var url by rememberSaveable { mutableStateOf(state.serverUrl) }
                var name by rememberSaveable { mutableStateOf("") }
                Text("Set up your family", style = MaterialTheme.typography.titleMedium)
                OutlinedTextField(url, { url = it }, Modifier.fillMaxWidth(), label = { Text("Your family's Migru server") })
                OutlinedTextField(name, { name = it }, Modifier.fillMaxWidth(), label = { Text("Family name") })
                Button(onClick = { model.createFamily(url, name) }, enabled = url.isNotBlank() && name.isNotBlank()) { Text("Create our family") }
                return@Column
            }
            Text("Family phones", style = MaterialTheme.typography.titleMedium)
            state.devices.forEach { device ->
                Row(Modifier.fillMaxWidth(), horizontalArrangement = Arrangement.SpaceBetween) {
                    val removed = if (device.revokedAtMs != null) " (removed)" else ""
                    Text("${device.name} · ${device.role}$removed")
                    if (device.revokedAtMs == null && device.role == "child") {
                        TextButton(onClick = { model.removePhone(device.id) }) { Text("Remove") }
                    }
                }
            }
            state.pairingCode?.let { Text("On your child's phone, enter: $it (valid 10 minutes)", style = MaterialTheme.typography.titleMedium) }
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                Button(onClick = model::addChildPhone) { Text("Add a child's phone") }
                TextButton(onClick = model::syncNow) { Text("Sync now") }
            }
        }
    }
}
