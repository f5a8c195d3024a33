import Foundation

/// A tmpfs of a few hundred kilobytes mounted under the temporary folder (the tests run as root),
/// to put a store on a disk that can be filled: `fill()` takes every free byte, `free()` gives
/// them back.
public final class SmallFilesystem: Sendable {
    public let path: String
    private var filler: String { "\(path)/filler" }

    public init(kilobytes: Int) async throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("small-fs-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        do {
            try await TestBroker.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(kilobytes)k", "tmpfs", path])
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw error
        }
    }

    /// Writes a file until the filesystem has no space left.
    public func fill() async throws {
        // dd ends with "No space left on device" (status 1) once full: that is the point.
        _ = try? await TestBroker.run("/bin/dd", ["if=/dev/zero", "of=\(filler)", "bs=4096"])
        let free = try FileManager.default.attributesOfFileSystem(forPath: path)[.systemFreeSize] as? Int ?? -1
        guard free < 4096 else { throw TestBroker.CommandFailed(command: "fill \(path)", status: 1, output: "\(free) bytes still free") }
    }

    public func free() throws {
        try FileManager.default.removeItem(atPath: filler)
    }

    public func unmount() async {
        _ = try? await TestBroker.run("/bin/umount", ["-l", path])
        try? FileManager.default.removeItem(atPath: path)
    }
}
