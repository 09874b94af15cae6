import ChildAppUI
import SwiftUI

@main
struct MigruChildApp: App {
    var body: some Scene {
        WindowGroup { ChildRootView() }
    }
}
