import ParentAppUI
import SwiftUI

@main
struct MigruParentApp: App {
    var body: some Scene {
        WindowGroup { ParentRootView() }
    }
}
