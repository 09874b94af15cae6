import MigruCore
import MigruKit
import SwiftUI

/// The parent app: the family (create it, add a child's phone with a one-time code, sync) and
/// what this device holds, child by child, with each child's next 24 hours.
public struct ParentRootView: View {
    @StateObject private var store = MigruStore()
    @State private var server = ""
    @State private var familyName = ""

    public init() {}

    public var body: some View {
        NavigationStack {
            List {
                Section("Family") {
                    if store.joinedFamily {
                        if let code = store.pairingCode {
                            Text("On your child's phone, enter \(code) (valid 10 minutes).").bold()
                        }
                        Button("Add a child's phone") { Task { await store.addChildPhone() } }
                        Button("Sync now") { Task { await store.syncNow() } }
                    } else {
                        TextField("Your family's Migru server", text: $server)
                            .textInputAutocapitalization(.never)
                            .keyboardType(.URL)
                        TextField("Family name", text: $familyName)
                        Button("Create our family") { Task { await store.createFamily(server: server, name: familyName) } }
                            .disabled(server.isEmpty || familyName.isEmpty)
                    }
                }
                if let stats = store.stats, !stats.users.isEmpty {
                    Section("Children") {
                        ForEach(stats.users, id: \.self) { user in
                            NavigationLink(user) { ChildDetailView(user: user) }
                        }
                    }
                    Section("On this phone") {
                        LabeledContent("Entries", value: "\(stats.events)")
                        if let first = stats.firstTs, let last = stats.lastTs {
                            LabeledContent("From", value: String(first.prefix(10)))
                            LabeledContent("To", value: String(last.prefix(10)))
                        }
                        LabeledContent("Waiting to sync", value: "\(stats.outboxPending)")
                    }
                } else {
                    Text("No entries yet. Pair with your child's phone to see how they are doing.")
                }
            }
            .navigationTitle("Migru")
            .refreshable { await store.refresh() }
        }
        .task { await store.open() }
    }
}

/// One child's next 24 hours and symptom log: when it hurt, and how much.
struct ChildDetailView: View {
    @StateObject private var store: MigruStore

    init(user: String) {
        _store = StateObject(wrappedValue: MigruStore(user: user))
    }

    var body: some View {
        List {
            if let outlook = store.outlook {
                Section("Next 24 hours") {
                    LabeledContent("Headache risk", value: "\(Self.word(outlook.migraineRisk.level)) (\(Int((outlook.migraineRisk.probability * 100).rounded())) %)")
                    if let sleep = outlook.sleep {
                        LabeledContent("Sleep tonight", value: "\(sleep.onset.dropFirst(11).prefix(5)) – \(sleep.wake.dropFirst(11).prefix(5))")
                    }
                    if let peak = outlook.stress.max(by: { $0.value < $1.value }) {
                        LabeledContent("Most stress around", value: String(peak.ts.dropFirst(11).prefix(5)))
                    }
                }
            }
            Section("Symptoms") {
                ForEach(Array(store.history.filter { $0.kind == "symptom" }.reversed()), id: \.id) { event in
                    HStack {
                        Text(event.ts.prefix(16).replacingOccurrences(of: "T", with: " "))
                        Spacer()
                        Text(event.intensity.map { "\($0)/10" } ?? "–").bold()
                    }
                }
            }
        }
        .overlay {
            if store.ready && !store.history.contains(where: { $0.kind == "symptom" }) {
                Text("No symptoms logged.")
            }
        }
        .navigationTitle(store.user ?? "")
        .task {
            await store.open()
            await store.refreshOutlook()
        }
    }

    private static func word(_ level: Level) -> String {
        switch level {
        case .low: return "low"
        case .moderate: return "moderate"
        case .high: return "high"
        }
    }
}
