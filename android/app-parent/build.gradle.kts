// Shared Android settings and dependencies come from the root build.gradle.kts.
plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
    id("org.jetbrains.kotlin.plugin.compose")
}

android {
    namespace = "org.migru.parent"
    defaultConfig { applicationId = "org.migru.parent" }
}
