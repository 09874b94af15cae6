package org.migru.core

import java.nio.file.Files
import java.nio.file.Path
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.BeforeEach

/** Each test gets its own database in a fresh temporary folder, removed after the test. */
abstract class TempCompanion(private val prefix: String) {
    protected lateinit var dir: Path
    protected lateinit var companion: MigruCompanion

    @BeforeEach
    fun openTempCompanion() {
        dir = Files.createTempDirectory(prefix)
        companion = MigruCompanion.open(dir.resolve("migru.db").toString())
    }

    @AfterEach
    fun closeTempCompanion() {
        companion.close()
        dir.toFile().deleteRecursively()
    }
}
