// The console's benchmark; run it through `deploy/bench-console` (release build).
//
//   console-bench [--delegations N] [--requests R] [--scans S] [--only PATH-PREFIX]
//
// 1. The read model keeping up: a synthetic event of N delegations (3 people each; 50 venues,
//    N/13 buses of 45 seats over two days, each bus a tour of two stops a day, a notification
//    each) goes through the console's own routes and inbox transaction, in batches of 64 as the
//    pipeline applies them, into a real SQLite file (synchronous=full): messages per second.
// 2. The pages on that store, through the console's real routes and templates (Hummingbird's
//    router in-process, no network): each page R times, median and 95th percentile in ms.
// 3. Check-in: S scans (one rider each), one request each, back to back: each pass's signature
//    checked, the check-in and its message written in one transaction (synchronous=full); after
//    each, the bus's count as the page asks for it. Scans per minute, and ms until visible.
//
// Prints one JSON line per stage.
import ConsoleCore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Messages
import NIOCore
import Passes
import ServiceRuntime

struct Failure: Error, CustomStringConvertible { let description: String }

var delegations = 5000
var requests = 20
var scans = 1000
var only = ""
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let flag = arguments.next() {
    if flag == "--only", let prefix = arguments.next() {
        only = prefix
        continue
    }
    guard let value = arguments.next().flatMap(Int.init), value > 0 else {
        FileHandle.standardError.write(Data("\(flag) needs a positive whole number\n".utf8))
        exit(64)
    }
    switch flag {
    case "--delegations": delegations = value
    case "--requests": requests = value
    case "--scans": scans = value
    default:
        FileHandle.standardError.write(Data("unknown option \(flag)\n".utf8))
        exit(64)
    }
}

let eventID = "bench-event"
let zone = TimeZone(identifier: "Asia/Ho_Chi_Minh") ?? .gmt
func moment(_ day: Int, _ hour: Int, _ minute: Int = 0) -> Date {
    var components = DateComponents()
    (components.year, components.month, components.day, components.hour, components.minute) = (2026, 1, day, hour, minute)
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = zone
    return calendar.date(from: components) ?? Date()
}

let venueCount = 50
let busCount = max(1, delegations / 13)
let venues = (0..<venueCount).map { index in
    Venue(
        id: "venue-\(index)", name: LocalizedText(en: "Venue \(index)"), address: "Da Nang",
        coordinates: Coordinates(latitude: 16.0 + Double(index % 10) * 0.01, longitude: 108.1 + Double(index / 10) * 0.02),
        openingWindows: [13, 14].map { TimeWindow(start: moment($0, 8), end: moment($0, 17)) }, visitMinutes: 90,
        capacityPerVisit: 60, topics: ["logistics"])
}
let programme = ProgrammePublished(
    eventID: eventID, version: 1, name: LocalizedText(en: "Benchmark event"), timeZone: "Asia/Ho_Chi_Minh",
    days: ["2026-01-13", "2026-01-14"], capacity: EventCapacity(organisations: delegations, delegates: delegations * 3),
    sessions: [], venues: venues, buses: (0..<busCount).map { Bus(id: "bus-\($0)", seats: 45) }, travel: TravelTimes(),
    interpreters: [], meetingSlots: [], publishedAt: moment(5, 9))

func delegation(_ index: Int) -> Delegation {
    Delegation(
        organisation: Organisation(name: "Company \(index)", country: "CN", sectors: ["logistics"]), role: .visiting,
        leadContact: Contact(
            name: "Lead \(index)", email: "lead\(index)@example.cn", phone: "+86 755 0000 \(index)", language: .chineseSimplified),
        delegates: (0..<3).map { person in
            Delegate(
                name: "Person \(index)-\(person)", email: "p\(person).\(index)@example.cn", phone: "+86 139 0000 \(index)",
                language: .chineseSimplified, needsInterpreter: person == 0)
        }, interests: Interests(sectors: ["logistics"], topics: []), preferredVisits: ["venue-\(index % venueCount)"])
}

func messages(for index: Int) throws -> [(MessageType, Data)] {
    let id = registrationID(eventID: eventID, reference: "ref-\(index)")
    // Each bus a tour a day: two stops, the same for all its riders, at times spread over the buses.
    let number = index % busCount
    let bus = "bus-\(number)"
    var items: [ItineraryItem] = []
    for day in [13, 14] {
        let stops: [(hour: Int, venue: Int)] = [
            (8 + number % 4, (number + day) % venueCount), (13 + number % 3, (number + day + 7) % venueCount),
        ]
        for stop in stops {
            let start = moment(day, stop.hour)
            items.append(
                ItineraryItem(
                    uid: "visit-\(stop.venue)-\(day)-\(index)", kind: .visit, title: LocalizedText(en: "Venue \(stop.venue)"),
                    venueID: "venue-\(stop.venue)", start: start, end: start.addingTimeInterval(5400), busID: bus))
        }
    }
    return [
        (
            .registrationAccepted,
            try MessageCoding.encode(
                RegistrationAccepted(
                    registrationID: id, eventID: eventID, reference: "ref-\(index)", revision: 1, delegation: delegation(index),
                    acceptedAt: moment(6, 10)))
        ),
        (
            .itineraryPlanned,
            try MessageCoding.encode(
                ItineraryPlanned(
                    eventID: eventID, registrationID: id, planVersion: 1, timeZone: "Asia/Ho_Chi_Minh", items: items, unmet: [],
                    plannedAt: moment(7, 9)))
        ),
        (
            .notificationDelivered,
            try MessageCoding.encode(
                NotificationDelivered(
                    notificationID: "n-\(index)", idempotencyKey: "key-\(index)", registrationID: id, kind: .accepted, channel: .email,
                    language: .chineseSimplified, attempts: 1, deliveredAt: moment(6, 11)))
        ),
    ]
}

func rssMB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return 0 }
    return kb / 1024
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}

func line(_ object: [String: Any]) {
    if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
        print(String(decoding: data, as: UTF8.self))
    }
}

let folder = FileManager.default.temporaryDirectory.appendingPathComponent("console-bench-\(UUID().uuidString.prefix(6))")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: folder) }
let store = try ServiceStore(
    path: folder.appendingPathComponent("console.sqlite").path, synchronous: .full, migrations: ConsoleStore.migrate)
let dispatcher = ConsoleHandler().dispatcher
let transaction = InboxTransaction(service: "console", attempts: 5)

// 1. The read model.
var pending: [(MessageType, Data)] = [(.programmePublished, try MessageCoding.encode(programme))]
for index in 0..<delegations { pending += try messages(for: index) }
let start = ContinuousClock.now
var applied = 0
for batch in stride(from: 0, to: pending.count, by: 64).map({ Array(pending[$0..<min($0 + 64, pending.count)]) }) {
    let decoded = try batch.enumerated().map { offset, message in
        let metadata = MessageMetadata(type: message.0, messageID: "m-\(applied + offset)", correlationID: nil, receivedAt: Date())
        guard let decoded = try dispatcher.decode(message.1, metadata: metadata) else { throw Failure(description: "no route") }
        return (decoded, SHA256.hash(data: message.1).hexString)
    }
    try store.database.write { db in
        for (message, digest) in decoded { _ = try transaction.apply(message, digest: digest, in: db) }
    }
    applied += batch.count
}
let seconds = Double((ContinuousClock.now - start).components.attoseconds) / 1e18 + Double((ContinuousClock.now - start).components.seconds)
line([
    "stage": "read-model", "delegations": delegations, "messages": applied, "seconds": (seconds * 100).rounded() / 100,
    "per_second": Int(Double(applied) / seconds), "peak_rss_mb": (rssMB() * 10).rounded() / 10,
])

// 2. The pages.
try store.database.write { db in
    try Accounts.add(name: "bench", role: .organiser, password: "benchmark password", cost: .testing, in: db)
}
let passKeys = try PassKeys(spec: "bench:" + Data(repeating: 3, count: 32).base64EncodedString())
let configuration = ConsoleConfiguration(
    service: ServiceConfiguration(serviceName: "console", amqp: .init(), storePath: store.path), eventID: eventID, passKeys: passKeys)
let pages = try ConsolePages(assets: ConsoleConfiguration.defaultAssets)
let app = try ServiceHTTP.application(
    configuration: configuration.service, readiness: .init(connections: [], store: store), store: store,
    metrics: ServiceMetrics(service: "console"), logger: Logger(label: "console-bench"),
    routes: { routes in ConsoleHTTP.routes(configuration: configuration, pages: pages, now: { moment(14, 7) })(routes, store) })
let paths = [
    "/", "/registrations", "/registrations?q=Company%201234", "/registrations/\(registrationID(eventID: eventID, reference: "ref-42"))",
    "/plan?day=2026-01-14&at=14:00", "/manifests?day=2026-01-14&bus=bus-7", "/manifests.csv?day=2026-01-14", "/audit",
]
let repeats = requests
let measured = paths.filter { $0.hasPrefix(only) }
let measureCheckin = "/checkins".hasPrefix(only)
let scanCount = scans
try await app.test(.router) { client in
    // Log in (a login page's nonce cookie, then the form).
    let form = try await client.execute(uri: "/login", method: .get)
    let nonce =
        form.headers[values: .setCookie].first { $0.hasPrefix("console_login=") }?.split(separator: ";").first.map(String.init) ?? ""
    let token = nonce.split(separator: "=", maxSplits: 1).last.map(String.init) ?? ""
    let login = try await client.execute(
        uri: "/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded", .cookie: nonce],
        body: ByteBuffer(string: "_csrf=\(token)&name=bench&password=benchmark+password"))
    guard let session = login.headers[values: .setCookie].first(where: { $0.hasPrefix("console_session=") })?.split(separator: ";").first
    else { throw Failure(description: "login failed: \(login.status)") }
    for path in measured {
        var times: [Double] = []
        var bytes = 0
        for _ in 0..<repeats {
            let began = ContinuousClock.now
            let response = try await client.execute(uri: path, method: .get, headers: [.cookie: String(session)])
            let elapsed = ContinuousClock.now - began
            guard response.status == .ok else { throw Failure(description: "\(path): \(response.status)") }
            bytes = response.body.readableBytes
            if let dump = ProcessInfo.processInfo.environment["CONSOLE_BENCH_DUMP"], path.hasPrefix("/plan") {
                try? Data(buffer: response.body).write(to: URL(fileURLWithPath: dump))
            }
            times.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
        }
        line([
            "stage": "page", "path": path, "requests": repeats, "median_ms": (percentile(times, 0.5) * 10).rounded() / 10,
            "p95_ms": (percentile(times, 0.95) * 10).rounded() / 10, "kb": bytes / 1024,
        ])
    }

    // 3. Check-in: a scan per rider of the first day's buses (each pass's signature checked, the
    // check-in and its message written in one transaction), one request each, back to back; after
    // each, the bus's count as the page asks for it (what a marshal sees).
    guard measureCheckin else { return }
    let page = try await client.execute(uri: "/", method: .get, headers: [.cookie: String(session)])
    let marker = "name=\"_csrf\" value=\""
    guard let range = String(buffer: page.body).range(of: marker) else { throw Failure(description: "no CSRF token on the page") }
    let csrf = String(String(buffer: page.body)[range.upperBound...].prefix { $0 != "\"" })
    let visits = try await store.database.read { db in try ConsoleQueries.busVisits(eventID: eventID, day: "2026-01-14", in: db) }
    var riders: [(registration: String, bus: String)] = []
    for visit in visits where !riders.contains(where: { $0.registration == visit.registrationID }) {
        riders.append((visit.registrationID, visit.busID))
        if riders.count == scanCount { break }
    }
    let expires = moment(16, 0)
    var recordTimes: [Double] = []
    var visibleTimes: [Double] = []
    let began = ContinuousClock.now
    for (index, rider) in riders.enumerated() {
        let token = Pass(eventID: eventID, registrationID: rider.registration, person: 1, expires: expires).token(passKeys)
        let body = "{\"scans\":[{\"id\":\"bench-scan-\(index)\",\"pass\":\"\(token)\",\"day\":\"2026-01-14\",\"bus\":\"\(rider.bus)\"}]}"
        let sent = ContinuousClock.now
        let response = try await client.execute(
            uri: "/checkins", method: .post,
            headers: [.cookie: String(session), .contentType: "application/json", HTTPField.Name("X-CSRF-Token")!: csrf],
            body: ByteBuffer(string: body))
        guard response.status == .ok, String(buffer: response.body).contains("\"recorded\"") else {
            throw Failure(description: "check-in \(index): \(response.status) \(String(buffer: response.body))")
        }
        let recorded = ContinuousClock.now
        let status = try await client.execute(
            uri: "/checkins/status?day=2026-01-14&bus=\(rider.bus)", method: .get, headers: [.cookie: String(session)])
        guard status.status == .ok else { throw Failure(description: "status: \(status.status)") }
        recordTimes.append(milliseconds(recorded - sent))
        visibleTimes.append(milliseconds(ContinuousClock.now - sent))
    }
    let total =
        Double((ContinuousClock.now - began).components.seconds) + Double((ContinuousClock.now - began).components.attoseconds) / 1e18
    line([
        "stage": "checkin", "scans": riders.count, "per_minute": Int(Double(riders.count) / total * 60),
        "record_median_ms": (percentile(recordTimes, 0.5) * 10).rounded() / 10,
        "record_p95_ms": (percentile(recordTimes, 0.95) * 10).rounded() / 10,
        "visible_median_ms": (percentile(visibleTimes, 0.5) * 10).rounded() / 10,
        "visible_p95_ms": (percentile(visibleTimes, 0.95) * 10).rounded() / 10,
        "visible_max_ms": ((visibleTimes.max() ?? 0) * 10).rounded() / 10,
    ])
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}
line(["stage": "done", "peak_rss_mb": (rssMB() * 10).rounded() / 10])
