import Foundation
import NIOSSL

/// A throwaway self-signed certificate made with `openssl req` in a temporary directory.
struct TLSMaterial: Sendable {
    let server: NIOSSLContext
    let client: NIOSSLContext

    static func make() throws -> TLSMaterial {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("muxbench-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = dir.appendingPathComponent("key.pem").path
        let cert = dir.appendingPathComponent("cert.pem").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
        ]
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw NIOSSLError.failedToLoadCertificate }
        var serverConfig = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        )
        serverConfig.minimumTLSVersion = .tlsv13
        var clientConfig = TLSConfiguration.makeClientConfiguration()
        clientConfig.minimumTLSVersion = .tlsv13
        clientConfig.certificateVerification = .none
        return TLSMaterial(server: try NIOSSLContext(configuration: serverConfig), client: try NIOSSLContext(configuration: clientConfig))
    }
}
