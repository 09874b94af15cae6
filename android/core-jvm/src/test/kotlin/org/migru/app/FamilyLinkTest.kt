package org.migru.app

import java.nio.file.Files
import java.nio.file.attribute.PosixFilePermission
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.migru.core.LoopbackServer

/** The apps' family glue over the real library and a real server: create, pair, sync, remove. */
class FamilyLinkTest {
    private fun <T> ok(outcome: Outcome<T>): T = when (outcome) {
        is Outcome.Ok -> outcome.value
        is Outcome.Failed -> error(outcome.message)
    }

    @Test
    fun `a parent creates the family, the child's phone joins and syncs, and a removed phone stops syncing`() = runBlocking<Unit> {
        LoopbackServer.start().use { server ->
            val dir = server.dir
            val parentLink = FamilyLink(server.url, dir.resolve("parent/token").toFile())
            assertFalse(parentLink.joined)
            val noFamily = parentLink.pairingCode()
            assertTrue(noFamily is Outcome.Failed && noFamily.message.contains("not joined"), "$noFamily")

            ok(parentLink.createFamily("Our family", "Mum's phone"))
            assertTrue(parentLink.joined)
            val perms = Files.getPosixFilePermissions(dir.resolve("parent/token"))
            assertEquals(setOf(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE), perms, "the token is the owner's only")
            val code = ok(parentLink.pairingCode("child"))

            val childLink = FamilyLink(server.url, dir.resolve("child/token").toFile())
            val wrong = childLink.join("AAAA-AAAA", "Sam's phone")
            assertTrue(wrong is Outcome.Failed && !wrong.canRetry, "a wrong code is not worth retrying: $wrong")
            assertNull(childLink.token, "nothing is kept after a refused code")
            ok(childLink.join(code.code, "Sam's phone"))

            ok(MigruSession.open(dir.resolve("child.db").toString())).use { phone ->
                ok(phone.say("I drew a dragon today", "en"))
                val progress = ok(phone.sync(childLink))
                assertEquals(0uL, progress.accepted, "a message stays on the phone without the family's opt-in")
                assertEquals(1uL, progress.keptPrivate)
                ok(phone.logSymptom(5, null))
                assertEquals(1uL, ok(phone.sync(childLink)).accepted)

                val child = ok(parentLink.devices()).single { it.role == "child" }
                ok(parentLink.remove(child.id))
                ok(phone.logSymptom(3, null))
                val refused = phone.sync(childLink)
                assertTrue(refused is Outcome.Failed && refused.message.contains("paired"), "$refused")
            }
        }
    }
}
