// The Rust core for both apps: generated bindings + JNA + the glue in ../core-jvm/src/main/kotlin
// (the same Kotlin the JVM test suite exercises), and jniLibs built by `cargo xtask android`.
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "org.migru.shared"
    compileSdk = 35
    defaultConfig {
        minSdk = 26
        // JNA and the generated bindings are reached by reflection: keep them through R8.
        consumerProguardFiles("consumer-rules.pro")
    }
    sourceSets["main"].java.srcDirs(
        providers.gradleProperty("migru.bindingsDir").get(),
        "../core-jvm/src/main/kotlin",
    )
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

dependencies {
    // The Android flavour of JNA carries its own libjnidispatch.so for each ABI.
    api("net.java.dev.jna:jna:5.17.0@aar")
    api("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.10.2")
}
