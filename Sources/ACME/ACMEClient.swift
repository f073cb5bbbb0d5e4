import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// An ACME (RFC 8555) client for one account on one server: directory, nonces, account, signed
/// requests. Issuance is in `ACMEClient+Issue.swift`.
///
/// An actor because the nonce pool, the cached directory and the account URL are shared by every
/// request; the HTTP client is the caller's, so many ACME clients can share one connection pool.
public actor ACMEClient {
    public let directoryURL: String
    public let accountKey: P256.Signing.PrivateKey
    /// The account key as a JWK; its thumbprint is part of every key authorization.
    public nonisolated let jwk: JWK
    public let polling: ACMEPollingPolicy
    let httpClient: HTTPClient
    let logger: Logger

    private var cachedDirectory: ACMEDirectory?
    private var nonces = ACMENonces()
    /// The account URL (`kid`), known after ``account(email:)`` or given at init.
    public private(set) var accountURL: String?

    /// Responses larger than this are refused (a certificate chain is a few KiB, JSON less).
    public static let maximumResponseBytes = 1 << 20
    /// The time one HTTP exchange may take, connect included.
    public static let requestTimeout: TimeAmount = .seconds(30)

    public init(
        directoryURL: String,
        accountKey: P256.Signing.PrivateKey,
        httpClient: HTTPClient,
        logger: Logger,
        polling: ACMEPollingPolicy = ACMEPollingPolicy(),
        accountURL: String? = nil
    ) {
        self.directoryURL = directoryURL
        self.accountKey = accountKey
        self.jwk = JWK(accountKey.publicKey)
        self.httpClient = httpClient
        self.logger = logger
        self.polling = polling
        self.accountURL = accountURL
    }

    // MARK: Directory and account

    /// The server's directory, fetched once and cached.
    public func directory() async throws -> ACMEDirectory {
        if let cachedDirectory { return cachedDirectory }
        let response = try await send(.GET, directoryURL)
        try Self.throwIfProblem(response)
        let directory = try Self.decode(ACMEDirectory.self, from: response, what: "directory")
        cachedDirectory = directory
        return directory
    }

    /// Registers the account key, or finds the existing account for it (RFC 8555 §7.3: the server
    /// answers 200 with the same Location for a known key), and returns the account URL.
    @discardableResult
    public func account(email: String?) async throws -> String {
        let directory = try await directory()
        let request = ACMEAccount.Request(
            termsOfServiceAgreed: true,
            contact: email.map { ["mailto:\($0)"] }
        )
        let response = try await post(directory.newAccount, payload: Self.encode(request), signer: .jwk(jwk))
        guard let location = response.headers.first(name: "Location"), !location.isEmpty else {
            throw ACMEError("newAccount response has no Location header")
        }
        if accountURL != location {
            logger.info("ACME account", metadata: ["account": "\(location)", "status": "\(response.status.code)"])
        }
        accountURL = location
        return location
    }

    /// The account URL, registering without contact first if ``account(email:)`` was never called.
    func requireAccount() async throws -> String {
        if let accountURL { return accountURL }
        return try await account(email: nil)
    }

    // MARK: Renewal information (RFC 9773)

    /// The CA's suggested renewal window for `certificate`, or nil when the server offers no ARI.
    /// A plain GET: ARI resources are not authenticated (§4.2).
    public func renewalInfo(for certificate: ACMECertificate) async throws -> RenewalWindow? {
        guard let base = try await directory().renewalInfo else { return nil }
        let id = try RenewalInfo.certificateID(for: certificate.leaf)
        let url = base.hasSuffix("/") ? base + id : base + "/" + id
        let response = try await send(.GET, url)
        try Self.throwIfProblem(response)
        let now = Date()
        let retryAfter = ACMEPollingPolicy.parseRetryAfter(response.headers.first(name: "Retry-After"), now: now)
            .map { now.addingTimeInterval(Double($0.components.seconds)) }
        return try RenewalInfo.parseWindow(response.body, retryAfter: retryAfter)
    }

    // MARK: Signed requests

    /// A signed POST (RFC 8555 §6.2). A nil payload is POST-as-GET (§6.3). A `badNonce` problem is
    /// retried once with a fresh nonce, as §6.5 expects of clients; any other problem is thrown.
    func post(_ url: String, payload: [UInt8]?, signer: JWS.Signer, accept: String? = nil) async throws -> Response {
        var attempt = 0
        while true {
            attempt += 1
            let nonce = try await nextNonce()
            let jws = try JWS.sign(payload: payload, url: url, nonce: nonce, signer: signer, key: accountKey)
            let response = try await send(.POST, url, body: jws.body(), accept: accept)
            if let problem = Self.problem(in: response) {
                if problem.isBadNonce && attempt < 2 {
                    logger.debug("ACME badNonce, retrying once", metadata: ["url": "\(url)"])
                    continue
                }
                throw problem
            }
            return response
        }
    }

    func postAsGet(_ url: String, kid: String, accept: String? = nil) async throws -> Response {
        try await post(url, payload: nil, signer: .kid(kid), accept: accept)
    }

    /// Adds a nonce to the pool as if a response had carried it; tests use it to force a `badNonce`.
    func addNonce(_ nonce: String) {
        nonces.add(nonce)
    }

    /// A spare nonce, or a fresh one from `newNonce` (§7.2). The fresh one is taken straight from the
    /// response rather than through the pool, so a concurrent request cannot steal it.
    private func nextNonce() async throws -> String {
        if let nonce = nonces.take() { return nonce }
        let directory = try await directory()
        let response = try await send(.HEAD, directory.newNonce, collectNonce: false)
        guard response.status == .ok || response.status == .noContent,
            let nonce = response.headers.first(name: "Replay-Nonce"), ACMENonces.isValid(nonce)
        else {
            throw ACMEError("newNonce answered HTTP \(response.status.code) without a usable Replay-Nonce")
        }
        return nonce
    }

    // MARK: HTTP

    struct Response: Sendable {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        var body: [UInt8]
    }

    /// One HTTP exchange with a bounded body; records the `Replay-Nonce` of every response.
    private func send(
        _ method: HTTPMethod,
        _ url: String,
        body: [UInt8]? = nil,
        accept: String? = nil,
        collectNonce: Bool = true
    ) async throws -> Response {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "User-Agent", value: "tunnel-acme/1")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/jose+json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        if let accept { request.headers.add(name: "Accept", value: accept) }
        let response = try await httpClient.execute(request, timeout: Self.requestTimeout, logger: logger)
        let buffer: ByteBuffer
        do {
            buffer = try await response.body.collect(upTo: Self.maximumResponseBytes)
        } catch is NIOTooManyBytesError {
            throw ACMEError("\(method) \(url): response larger than \(Self.maximumResponseBytes) bytes")
        }
        if collectNonce, let nonce = response.headers.first(name: "Replay-Nonce") {
            nonces.add(nonce)
        }
        return Response(status: response.status, headers: response.headers, body: Array(buffer.readableBytesView))
    }

    /// The problem document of an error response; a non-JSON error body becomes a problem whose
    /// detail is the start of the body, so the operator still sees what the server said.
    static func problem(in response: Response) -> ACMEProblem? {
        guard response.status.code >= 400 else { return nil }
        if var problem = try? JSONDecoder().decode(ACMEProblem.self, from: Data(response.body)) {
            if problem.status == nil { problem.status = Int(response.status.code) }
            return problem
        }
        let text = String(decoding: response.body.prefix(512), as: UTF8.self)
        return ACMEProblem(type: "about:blank", detail: text.isEmpty ? nil : text, status: Int(response.status.code))
    }

    static func throwIfProblem(_ response: Response) throws {
        if let problem = problem(in: response) { throw problem }
    }

    static func decode<T: Decodable>(_ type: T.Type, from response: Response, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(response.body))
        } catch {
            throw ACMEError("\(what): unexpected response (HTTP \(response.status.code)): \(error)")
        }
    }

    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }
}
