import AMQP
import Foundation
import Messages
import TestSupport
import Testing

@testable import ConsoleCore

/// "Anything parked" on the overview: the dead-letter queues' depths, read from the broker by
/// passive declaration (which needs no permission on the queues), shown with where they wait.
@Suite struct ParkedMessagesTests {
    @Test func eachQueuesDepthIsReadByAUserWithNoPermissionOnIt() async throws {
        try await TestBroker.withVirtualHost { vhost in
            let parkedQueue = TestBroker.uniqueName("dead-letters")
            let missing = TestBroker.uniqueName("missing")
            let owner = try await TestBroker.connect(vhost: vhost)
            try await owner.declare(Topology(queues: [QueueDeclaration(name: parkedQueue)]))
            for index in 0..<3 { try await owner.publish(Data("\(index)".utf8), exchange: "", routingKey: parkedQueue) }
            await owner.close()
            // The console's broker user may touch none of these queues.
            let user = TestBroker.uniqueName("watcher")
            try await TestBroker.ctl("add_user", user, "watcher-password")
            try await TestBroker.ctl("set_permissions", "-p", vhost, user, "^$", "^$", "^$")
            let connection = try await TestBroker.connect(vhost: vhost) { configuration in
                configuration.user = user
                configuration.password = "watcher-password"
            }
            let parked = ParkedMessages(queues: [parkedQueue, missing])
            #expect(parked.latest == nil)
            #expect(
                try await eventually(within: 10) {
                    try await parked.read(connection)
                    return parked.latest?.total == 3
                })
            #expect(parked.latest?.queues == [.init(name: parkedQueue, messages: 3), .init(name: missing, messages: nil)])
            await connection.close()
            try await TestBroker.ctl("delete_user", user)
        }
    }

    @Test func theOverviewShowsWhatIsParkedAndWhere() async throws {
        let harness = try await ConsoleFixtures.event()
        let parked = ParkedMessages(queues: ["registrations.dead-letters", "notifications.dead-letters", "delegation.unrouted.messages"])
        try await ConsolePagesTests.withConsole(harness, parked: parked) { browser, _ in
            _ = try await browser.login("mai")
            #expect(try await browser.get("/").body.contains("id=\"parked\">not read yet<"))
            parked.record([
                .init(name: "registrations.dead-letters", messages: 0), .init(name: "notifications.dead-letters", messages: 2),
                .init(name: "delegation.unrouted.messages", messages: 1),
            ])
            let overview = try await browser.get("/")
            #expect(overview.body.contains("id=\"parked\">3<"))
            #expect(overview.body.contains("<td>notifications.dead-letters</td><td>2</td>"))
            #expect(overview.body.contains("<td>delegation.unrouted.messages</td><td>1</td>"))
            #expect(!overview.body.contains("<td>registrations.dead-letters</td>"), "only the queues that hold some")
            #expect(overview.body.contains("delegation-ops failed list"))

            parked.recordProblem("cannot connect to 127.0.0.1:5672")
            let stale = try await browser.get("/")
            #expect(stale.body.contains("id=\"parked\">3<"), "the last figures stay")
            #expect(stale.body.contains("cannot connect to 127.0.0.1:5672"))

            parked.record([.init(name: "registrations.dead-letters", messages: 0)])
            let clear = try await browser.get("/")
            #expect(clear.body.contains("id=\"parked\">0<"))
            #expect(!clear.body.contains("parked-queues"))
        }
    }
}
