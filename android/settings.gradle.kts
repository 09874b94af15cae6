// Migru for Android: the child app and the parent app over one shared module holding the
// generated Kotlin bindings (org.migru.core), the JNA-loaded Rust library and the non-UI glue.
// Build the library and bindings first: `cargo xtask android` (see docs/mobile.md).
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "migru"
include(":shared", ":app-child", ":app-parent")
