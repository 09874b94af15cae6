import Foundation
import MigruCore
import Security

/// What the apps' screens show from the on-device store, kept up to date after each action.
/// Calls into the Rust core run off the main actor; failures become words for the screen.
@MainActor
public final class MigruStore: ObservableObject {
    @Published public private(set) var history: [LoggedEvent] = []
    @Published public private(set) var stats: Stats?
    /// Words for an alert when something did not work; the view clears it.
    @Published public var problem: String?
    @Published public private(set) var ready = false
    /// What Migru said after the child's last message (an insight or a red-flag message).
    @Published public private(set) var migruSays: String?
    /// The next 24 h (stress, tonight's sleep, headache risk), for the parent app's child view.
    @Published public private(set) var outlook: Outlook?

    private var companion: MigruCompanion?
    public let user: String?

    /// - Parameter user: whose records to show (the parent app follows each child); nil is this
    ///   phone's own child.
    public init(user: String? = nil) {
        self.user = user
    }

    /// The database in Application Support, excluded from iCloud backups: raw words stay here.
    public nonisolated static func defaultDatabaseURL() throws -> URL {
        var dir = try FileManager.default.url(
            for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        try dir.setResourceValues(values)
        return dir.appendingPathComponent("migru.db")
    }

    /// Opens the store; a file that is not Migru's is refused by the core and left alone.
    public func open(at url: URL? = nil) async {
        MigruLogging.start()
        let user = self.user
        await run {
            let path = try url ?? Self.defaultDatabaseURL()
            let companion = try MigruCompanion.open(path: path.path)
            return try user.map { try companion.forUser(user: $0) } ?? companion
        } then: { companion in
            self.companion = companion
            self.ready = true
        }
        _ = await call { try $0.purgeExpired() }
        await refresh()
    }

    /// The talk screen's send button: stores the words, then shows what Migru has to say.
    public func say(_ text: String) async {
        let language = Locale.current.language.languageCode?.identifier ?? "en"
        if let turn = await call({ try $0.converse(text: text, at: nil, lang: language) }) {
            switch turn.decision {
            case let .share(_, messageChild, _), let .redFlag(_, messageChild, _):
                migruSays = messageChild
            case .quiet:
                migruSays = nil
            }
        }
        await refresh()
        await syncQuietly()
    }

    /// The quick symptom log: 0–10 and, if the child wants, where or how it hurts.
    public func logSymptom(intensity: Int, words: String?) async {
        guard (0...10).contains(intensity) else {
            problem = "Pick a number from 0 to 10."
            return
        }
        _ = await call { try $0.logSymptom(intensity: UInt8(intensity), text: words, at: nil) }
        await refresh()
    }

    /// Imports a JSON Lines backup on the core's runtime, reporting records stored so far.
    public func importBackup(from url: URL, progress: @escaping @Sendable (UInt64) -> Void) async -> ImportReport? {
        guard let companion else { return nil }
        let report: ImportReport? = await run {
            try await companion.importFileAsync(path: url.path, progress: ProgressRelay(progress))
        } then: { $0 }
        await refresh()
        return report
    }

    public func export(to url: URL) async -> UInt64? {
        await call { try $0.exportFile(path: url.path) }
    }

    /// The settings screen's "delete everything on this phone".
    public func deleteEverything() async {
        _ = await call { try $0.deleteAll() }
        await refresh()
    }

    // MARK: The family

    /// The family's server this phone uses (nil before the family is set up).
    @Published public private(set) var familyServer: String? = UserDefaults.standard.string(forKey: "migru.server_url")
    /// The code to type on a child's phone, while it is valid.
    @Published public private(set) var pairingCode: String?
    public var joinedFamily: Bool { familyServer != nil && FamilyToken.load() != nil }

    /// The first parent's phone creates the family on `server`.
    public func createFamily(server: String, name: String) async {
        let enrolment = await run({ try await MigruCore.createFamily(serverUrl: server, familyName: name, deviceName: "Parent's phone") }, then: { $0 })
        if let enrolment { remember(server: server, token: enrolment.token) }
    }

    /// A one-time code (10 minutes) for a child's phone.
    public func addChildPhone() async {
        guard let server = familyServer, let token = FamilyToken.load() else { return }
        pairingCode = await run({ try await createPairingCode(serverUrl: server, parentToken: token, role: "child") }, then: { $0.code })
    }

    /// A child's phone joins with the code a parent's phone shows, then syncs.
    public func joinFamily(server: String, code: String) async {
        let enrolment = await run({ try await pairDevice(serverUrl: server, code: code, deviceName: "Child's phone") }, then: { $0 })
        guard let enrolment else { return }
        remember(server: server, token: enrolment.token)
        await syncNow()
    }

    /// Pushes new entries (never the child's words without the family's opt-in) and pulls what
    /// the family shares.
    public func syncNow() async {
        guard let companion, let server = familyServer, let token = FamilyToken.load() else { return }
        _ = await run({ try await companion.sync(serverUrl: server, token: token, listener: nil, cancel: nil) }, then: { $0 })
        await refresh()
    }

    /// After each message: no alert while offline (the next sync sends it), only when the phone
    /// must be paired again.
    private func syncQuietly() async {
        guard let companion, let server = familyServer, let token = FamilyToken.load() else { return }
        do {
            _ = try await Task.detached { try await companion.sync(serverUrl: server, token: token, listener: nil, cancel: nil) }.value
        } catch let error as MigruError {
            if case .Unauthorized = error { problem = Self.words(for: error) }
        } catch {}
    }

    private func remember(server: String, token: String) {
        guard FamilyToken.save(token) else {
            problem = "This phone could not keep its family key. Please try again."
            return
        }
        UserDefaults.standard.set(server, forKey: "migru.server_url")
        familyServer = server
    }

    /// Reads the forecast on the core's runtime (it reads days of band data).
    public func refreshOutlook() async {
        guard let companion else { return }
        if let outlook = await run({ try await companion.forecastAsync(days: nil, now: nil, backtest: false) }, then: { $0 }) {
            self.outlook = outlook
        }
    }

    public func refresh() async {
        if let events = await call({ try $0.recentEvents(limit: 200) }) { history = events }
        if let stats = await call({ try $0.stats() }) { self.stats = stats }
    }

    /// Runs `body` with the companion off the main actor; nil (and `problem` set) on failure.
    private func call<T: Sendable>(_ body: @escaping @Sendable (MigruCompanion) throws -> T) async -> T? {
        guard let companion else { return nil }
        return await run { try body(companion) } then: { $0 }
    }

    @discardableResult
    private func run<T: Sendable, U>(
        _ work: @escaping @Sendable () async throws -> T,
        then: (T) -> U
    ) async -> U? {
        do {
            let value = try await Task.detached(priority: .userInitiated) { try await work() }.value
            return then(value)
        } catch let error as MigruError {
            problem = Self.words(for: error)
        } catch {
            problem = "Something went wrong. Please try again."
        }
        return nil
    }

    /// Words for the screen; the technical reason is already in the log.
    public nonisolated static func words(for error: MigruError) -> String {
        switch error {
        case .InvalidInput(let reason): return "Hmm, that didn't work: \(reason)"
        case .Io: return "I couldn't read or write that file. Please try again."
        case .NotAMigruDatabase: return "Migru's notebook on this phone can't be opened. Please ask a grown-up."
        case .ModelUnavailable: return "Migru will use its prepared replies for now."
        case .Network: return "No connection right now. Migru will try again later."
        case .Unauthorized: return "This phone needs to be paired with the family again. Please ask a grown-up."
        case .UpgradeRequired: return "Migru needs an update before it can sync. Please ask a grown-up."
        case .Cancelled: return "Stopped."
        case .Other: return "Something went wrong. Please try again."
        }
    }
}

/// Forwards the core's import progress to a closure.
private final class ProgressRelay: ImportProgress, @unchecked Sendable {
    private let report: @Sendable (UInt64) -> Void
    init(_ report: @escaping @Sendable (UInt64) -> Void) { self.report = report }
    func onProgress(imported: UInt64, skipped: UInt64, duplicates: UInt64) { report(imported) }
}

/// This phone's family token in the Keychain (this device only, after first unlock): the server
/// shows it once and keeps only its hash.
enum FamilyToken {
    private static let query: [String: Any] = [
        kSecClass as String: kSecClassGenericPassword,
        kSecAttrService as String: "org.migru.family",
        kSecAttrAccount as String: "device-token",
    ]

    static func load() -> String? {
        var lookup = query
        lookup[kSecReturnData as String] = true
        lookup[kSecMatchLimit as String] = kSecMatchLimitOne
        var item: CFTypeRef?
        guard SecItemCopyMatching(lookup as CFDictionary, &item) == errSecSuccess, let data = item as? Data else { return nil }
        return String(data: data, encoding: .utf8)
    }

    static func save(_ token: String) -> Bool {
        SecItemDelete(query as CFDictionary)
        var item = query
        item[kSecValueData as String] = Data(token.utf8)
        item[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
        return SecItemAdd(item as CFDictionary, nil) == errSecSuccess
    }
}
