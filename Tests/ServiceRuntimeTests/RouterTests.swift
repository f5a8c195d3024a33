import Foundation
import GRDB
import Messages
import ServiceRuntime
import TestSupport
import Testing

/// The message router on its own: what it declares, what it dispatches, what it refuses.
@Suite struct RouterTests {
    struct Echo: Sendable {
        let answer: Bool

        static let router: MessageRouter<Echo> = {
            var router = MessageRouter<Echo>()
            router.on(RegistrationCancelRequested.self) { echo, message, _ in
                guard echo.answer else { return [] }
                return [
                    try OutboundMessage(
                        RegistrationRejected(
                            eventID: message.payload.eventID, reference: message.payload.reference, revision: nil, issues: [],
                            rejectedAt: Date()),
                        correlationID: message.answerCorrelationID)
                ]
            }
            router.on(ProgrammePublished.self) { _, message, _ in
                // Not declared: the router refuses to let it out.
                [try OutboundMessage(message.payload, correlationID: nil)]
            }
            router.emits(RegistrationRejected.self)
            return router
        }()
    }

    @Test func theDeclarationSaysWhatTheServiceConsumesAndEmits() {
        #expect(Echo.router.consumes == [.registrationCancelRequested, .programmePublished])
        #expect(Echo.router.emits == [.registrationRejected])
        let dispatcher = Echo.router.dispatcher(for: Echo(answer: true))
        #expect(dispatcher.routes(.programmePublished) && !dispatcher.routes(.registrationSubmitted))
    }

    @Test func aTypeWithoutARouteReachesNoHandlerAndAnUndeclaredEmitIsRefused() async throws {
        let harness = try HandlerHarness(Echo.router.dispatcher(for: Echo(answer: true)), migrations: { _ in })
        let answered = try await harness.send(RegistrationCancelRequested(eventID: "e", reference: "r"), correlationID: "c-1")
        #expect(answered.map(\.type) == [.registrationRejected])
        #expect(answered.map(\.correlationID) == ["c-1"])
        await #expect(throws: HandlerHarness.NotApplied.self) { try await harness.send(Samples.submission(reference: "r")) }
        let refused = try await harness.apply(Samples.programme())
        guard case .park(.permanent, let reason, _, _) = refused else {
            Issue.record("an undeclared emit parks the message: \(refused)")
            return
        }
        #expect(reason.contains("emitted programme.published, which the service does not declare"))
    }
}
