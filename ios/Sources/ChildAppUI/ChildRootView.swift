import MigruCore
import MigruKit
import SwiftUI

/// The child app: talk to Migru, log how it hurts in two taps, see what was written down.
public struct ChildRootView: View {
    @StateObject private var store = MigruStore()

    public init() {}

    public var body: some View {
        TabView {
            TalkView(store: store).tabItem { Label("Talk", systemImage: "bubble.left.and.bubble.right") }
            SymptomView(store: store).tabItem { Label("How I feel", systemImage: "heart.text.square") }
            NotesView(store: store).tabItem { Label("My notes", systemImage: "book") }
        }
        .task { await store.open() }
        .alert("Oops", isPresented: Binding(get: { store.problem != nil }, set: { if !$0 { store.problem = nil } })) {
            Button("OK", role: .cancel) {}
        } message: {
            Text(store.problem ?? "")
        }
    }
}

struct TalkView: View {
    @ObservedObject var store: MigruStore
    @State private var draft = ""

    var body: some View {
        VStack(spacing: 8) {
            ScrollViewReader { proxy in
                List {
                    ForEach(store.history, id: \.id) { event in
                        EventRow(event: event).id(event.id)
                    }
                    if let words = store.migruSays {
                        Text(words)
                            .padding(12)
                            .background(Color.accentColor.opacity(0.15), in: RoundedRectangle(cornerRadius: 12))
                    }
                }
                .listStyle(.plain)
                .onChange(of: store.history.count) { _ in
                    if let last = store.history.last { proxy.scrollTo(last.id, anchor: .bottom) }
                }
            }
            HStack {
                TextField("Tell Migru…", text: $draft, axis: .vertical)
                    .textFieldStyle(.roundedBorder)
                Button("Send") {
                    let text = draft
                    draft = ""
                    Task { await store.say(text) }
                }
                .disabled(!store.ready || draft.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
            }
            .padding()
        }
    }
}

struct EventRow: View {
    let event: LoggedEvent

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            Text(line).font(.body)
            Text(event.ts.prefix(16).replacingOccurrences(of: "T", with: " ")).font(.caption).foregroundStyle(.secondary)
        }
    }

    private var line: String {
        switch event.kind {
        case "symptom":
            let level = event.intensity.map { "It hurt \($0) of 10" } ?? "It hurt"
            return event.text.map { "\(level): \($0)" } ?? level
        default:
            return event.text ?? event.kind
        }
    }
}

struct SymptomView: View {
    @ObservedObject var store: MigruStore
    @State private var intensity = 5.0
    @State private var words = ""
    @State private var saved = false

    var body: some View {
        Form {
            Section("How much does it hurt?") {
                Text("\(Int(intensity)) of 10").font(.largeTitle)
                Slider(value: $intensity, in: 0...10, step: 1, onEditingChanged: { _ in saved = false })
            }
            Section("Where, or what it feels like (optional)") {
                TextField("behind my eyes…", text: $words)
            }
            Button(saved ? "Saved. Thank you!" : "Save") {
                let text = words.trimmingCharacters(in: .whitespacesAndNewlines)
                Task {
                    await store.logSymptom(intensity: Int(intensity), words: text.isEmpty ? nil : text)
                    saved = store.problem == nil
                    words = ""
                }
            }
            .disabled(!store.ready || saved)
        }
    }
}

struct NotesView: View {
    @ObservedObject var store: MigruStore
    @State private var server = ""
    @State private var code = ""

    var body: some View {
        List {
            if !store.joinedFamily {
                Section("Join my family") {
                    Text("Ask a grown-up for the code on their phone.").font(.footnote)
                    TextField("Family server", text: $server)
                        .textInputAutocapitalization(.never)
                        .keyboardType(.URL)
                    TextField("Code", text: $code).textInputAutocapitalization(.characters)
                    Button("Join") { Task { await store.joinFamily(server: server, code: code) } }
                        .disabled(server.isEmpty || code.isEmpty)
                }
            }
            if let stats = store.stats {
                LabeledContent("Things I told Migru", value: "\(stats.byKind["message"] ?? 0)")
                LabeledContent("Times I logged how I feel", value: "\(stats.byKind["symptom"] ?? 0)")
                if let first = stats.firstTs { LabeledContent("Since", value: String(first.prefix(10))) }
            } else {
                Text("Nothing written down yet.")
            }
            Text("Your own words stay on this phone. Once you join your family, they see how you feel, not what you wrote.")
                .font(.footnote).foregroundStyle(.secondary)
        }
        .refreshable { await store.refresh() }
    }
}
