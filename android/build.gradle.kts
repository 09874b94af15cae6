plugins {
    id("com.android.application") version "8.7.3" apply false
    id("com.android.library") version "8.7.3" apply false
    id("org.jetbrains.kotlin.android") version "2.2.21" apply false
    id("org.jetbrains.kotlin.plugin.compose") version "2.2.21" apply false
}

// The child and the parent app share every setting but their ids: one place to raise an SDK level
// or a Compose version for both, so the two apps never drift apart.
subprojects {
    pluginManager.withPlugin("com.android.application") {
        extensions.configure<com.android.build.api.dsl.ApplicationExtension> {
            compileSdk = 35
            defaultConfig {
                minSdk = 26
                targetSdk = 35
                versionCode = 1
                versionName = "0.1.0"
            }
            buildFeatures { compose = true }
            compileOptions {
                sourceCompatibility = JavaVersion.VERSION_17
                targetCompatibility = JavaVersion.VERSION_17
            }
        }
        dependencies {
            add("implementation", project(":shared"))
            add("implementation", platform("androidx.compose:compose-bom:2024.12.01"))
            add("implementation", "androidx.compose.material3:material3")
            add("implementation", "androidx.compose.ui:ui")
            add("implementation", "androidx.activity:activity-compose:1.9.3")
            add("implementation", "androidx.lifecycle:lifecycle-viewmodel-compose:2.8.7")
            add("implementation", "androidx.lifecycle:lifecycle-runtime-compose:2.8.7")
        }
    }
    pluginManager.withPlugin("org.jetbrains.kotlin.android") {
        extensions.configure<org.jetbrains.kotlin.gradle.dsl.KotlinAndroidProjectExtension> { jvmToolchain(17) }
    }
}
