import Foundation
import Passes
import QRCode
import TestSupport
import Testing

/// The delegates' passes: signed tokens (expiry, key rotation, forgery), their short codes, and
/// their QR codes read back by a real decoder (`zbarimg`, Debian's zbar-tools) from the PNG the
/// e-mails carry.
@Suite struct PassTests {
    static let old = "p2025:" + Data(repeating: 7, count: 32).base64EncodedString()
    static let new = "p2026:" + Data(repeating: 9, count: 32).base64EncodedString()
    static let pass = Pass(
        eventID: "danang-2026-01", registrationID: "reg-45f88ff599fca6c97fb6", person: 2,
        expires: Date(timeIntervalSince1970: 1_768_500_000))

    @Test func aTokenVerifiesUntilItExpiresAndNamesNoPerson() throws {
        let keys = try PassKeys(spec: Self.new)
        let token = Self.pass.token(keys)
        #expect(token.hasPrefix("DP1.p2026."))
        #expect(try Pass.verify(token, keys: keys, now: Self.pass.expires.addingTimeInterval(-1)) == Self.pass)
        #expect(throws: PassError.expired(Self.pass.expires)) { try Pass.verify(token, keys: keys, now: Self.pass.expires) }
        #expect(token.count < 120, "small enough for a QR code a phone reads at arm's length: \(token.count)")
    }

    @Test func anAlteredOrForeignTokenIsRefusedWithTheReason() throws {
        let keys = try PassKeys(spec: Self.new)
        let token = Self.pass.token(keys)
        var parts = token.split(separator: ".").map(String.init)
        var other = Self.pass
        other.person = 3
        parts[2] = other.token(keys).split(separator: ".").map(String.init)[2]
        let now = Self.pass.expires.addingTimeInterval(-60)
        #expect(throws: PassError.forged) { try Pass.verify(parts.joined(separator: "."), keys: keys, now: now) }
        let stranger = try PassKeys(spec: "p2026:" + Data(repeating: 1, count: 32).base64EncodedString())
        #expect(throws: PassError.forged) { try Pass.verify(Self.pass.token(stranger), keys: keys, now: now) }
        #expect(throws: PassError.malformed) { try Pass.verify("not a pass", keys: keys, now: now) }
        #expect(throws: PassError.malformed) { try Pass.verify("DP1.p2026.!!.!!", keys: keys, now: now) }
        #expect(PassError.forged.description.contains("signature"))
    }

    @Test func keysRotateTheNewSignsAndTheOldStillVerifiesUntilRemoved() throws {
        let before = try PassKeys(spec: Self.old)
        let during = try PassKeys(spec: "\(Self.new),\(Self.old)")
        let after = try PassKeys(spec: Self.new)
        let now = Self.pass.expires.addingTimeInterval(-60)
        let issuedBefore = Self.pass.token(before)
        #expect(try Pass.verify(issuedBefore, keys: during, now: now) == Self.pass)
        #expect(Self.pass.token(during).hasPrefix("DP1.p2026."), "the first key signs")
        #expect(throws: PassError.unknownKey("p2025")) { try Pass.verify(issuedBefore, keys: after, now: now) }
        #expect(throws: PassKeyError.short("k")) { try PassKeys(spec: "k:" + Data(count: 16).base64EncodedString()) }
        #expect(throws: PassKeyError.duplicate("p2026")) { try PassKeys(spec: "\(Self.new),\(Self.new)") }
        #expect(throws: PassKeyError.format) { try PassKeys(spec: "") }
    }

    @Test func theShortCodeIsEightUnambiguousCharactersPerPerson() throws {
        let keys = try PassKeys(spec: Self.new)
        let code = Self.pass.shortCode(keys)
        #expect(code.count == 8 && code.allSatisfy { "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains($0) })
        var next = Self.pass
        next.person = 3
        #expect(next.shortCode(keys) != code)
        #expect(Self.pass.shortCode(keys) == code, "the same pass, the same code")
    }

    @Test func theQRCodeReadsBackAsTheTokenFromThePNG() async throws {
        let keys = try PassKeys(spec: Self.new)
        let token = Self.pass.token(keys)
        let code = try Self.pass.qrCode(keys)
        #expect(code.size >= 21 && (code.size - 21) % 4 == 0)
        let png = code.png(scale: 4)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pass-\(UUID().uuidString).png")
        try png.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let read = try await TestBroker.run(
            "/usr/bin/zbarimg", ["--quiet", "--raw", "--nodbus", "-Sdisable", "-Sqrcode.enable", file.path])
        #expect(read.trimmingCharacters(in: .whitespacesAndNewlines) == token)
        let svg = code.svg()
        #expect(svg.hasPrefix("<svg") && svg.contains("<path d=\"M"))
    }

    @Test func textTooLongForAQRCodeIsAnErrorNotACrash() {
        #expect(throws: QRCode.Problem.tooLong(bytes: 8000)) { try QRCode(String(repeating: "x", count: 8000)) }
    }
}
