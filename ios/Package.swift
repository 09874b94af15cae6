// swift-tools-version:5.9
// Migru for iOS: the child app and the parent app over the Rust core.
//
// `cargo xtask apple` (on a Mac with Xcode) writes build/MigruCoreFFI.xcframework and
// build/Sources/MigruCore/MigruCore.swift (the generated bindings); nothing under build/ is
// committed. See docs/mobile.md.
import PackageDescription

let package = Package(
    name: "Migru",
    platforms: [.iOS(.v16), .macOS(.v13)],
    products: [
        .library(name: "MigruKit", targets: ["MigruKit"]),
        .library(name: "ChildAppUI", targets: ["ChildAppUI"]),
        .library(name: "ParentAppUI", targets: ["ParentAppUI"]),
    ],
    targets: [
        // The Rust static library with the C header and module map of the generated bindings.
        .binaryTarget(name: "MigruCoreFFI", path: "build/MigruCoreFFI.xcframework"),
        // The generated Swift bindings (module MigruCore, named in uniffi.toml).
        .target(name: "MigruCore", dependencies: ["MigruCoreFFI"], path: "build/Sources/MigruCore"),
        // Non-UI glue both apps share: the store model, logging to os_log.
        .target(name: "MigruKit", dependencies: ["MigruCore"], path: "Sources/MigruKit"),
        .target(name: "ChildAppUI", dependencies: ["MigruKit"], path: "Sources/ChildAppUI"),
        .target(name: "ParentAppUI", dependencies: ["MigruKit"], path: "Sources/ParentAppUI"),
        // Thin @main apps: `swift run MigruChild` on a Mac; on iOS an Xcode app target with the
        // same single file (docs/mobile.md).
        .executableTarget(name: "MigruChild", dependencies: ["ChildAppUI"], path: "Apps/MigruChild"),
        .executableTarget(name: "MigruParent", dependencies: ["ParentAppUI"], path: "Apps/MigruParent"),
    ]
)
