import AsyncHTTPClient
import Foundation
import NIOCore

/// `tunnel-server status` / `tunnel-agent status`: what a running process's admin API says,
/// as tables for a terminal. Reads `health`, then the role's lists (a relay's tunnels and agent
/// sessions, an agent's tunnels and relay sessions).
public struct StatusReport: Sendable {
    /// Where the API is (`host:port`, or a URL with a path prefix) and its credentials.
    public var api: String
    public var credentials: String?

    public init(api: String, credentials: String?) {
        self.api = api
        self.credentials = credentials
    }

    /// The API's base URL (`http://host:port/api` for `host:port`).
    var base: String {
        if api.hasPrefix("http://") || api.hasPrefix("https://") { return api.hasSuffix("/") ? String(api.dropLast()) : api }
        return "http://\(api)/api"
    }

    /// A failure the command reports in one line.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Fetches what the tables need and renders them.
    public func render() async throws -> String {
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        do {
            let text = try await render(with: client)
            try await client.shutdown()
            return text
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    func render(with client: HTTPClient) async throws -> String {
        let health = try await fetch("health", client)
        let role = health["role"] as? String ?? "?"
        var out = "\(role) \(health["version"] as? String ?? "?") \(health["status"] as? String ?? "?") · up \(Self.duration(health["uptimeSeconds"] as? Double ?? 0))"
        out += " · \(health["agents"] as? Int ?? 0) \(role == "relay" ? "agent sessions" : "relay sessions") · \(health["tunnels"] as? Int ?? 0) tunnels\n\n"
        let tunnels = try await fetch("tunnels", client)["tunnels"] as? [[String: Any]] ?? []
        out += Self.table(
            ["TUNNEL", "SESSIONS", "HOSTNAMES", "STREAMS", "REQUESTS 2xx/4xx/5xx", "IN", "OUT"],
            tunnels.map { t in
                let requests = t["requests"] as? [String: Int] ?? [:]
                return [
                    t["id"] as? String ?? "", (t["sessions"] as? [String] ?? []).joined(separator: ","), (t["hostnames"] as? [String] ?? []).joined(separator: ","),
                    "\(t["openStreams"] as? Int ?? 0)/\(t["streamsTotal"] as? Int ?? 0)",
                    "\(requests["2xx", default: 0])/\(requests["4xx", default: 0])/\(requests["5xx", default: 0])",
                    Self.bytes(t["bytesIn"] as? Int ?? 0), Self.bytes(t["bytesOut"] as? Int ?? 0),
                ]
            })
        out += "\n"
        let sessions = try await fetch(role == "relay" ? "agents" : "sessions", client)[role == "relay" ? "agents" : "sessions"] as? [[String: Any]] ?? []
        out += Self.table(
            ["SESSION", role == "relay" ? "AGENT" : "RELAY", "VERSION", "TUNNELS", "RTT", "STREAMS", "IN", "OUT", "CONNECTED"],
            sessions.map { s in
                [
                    s["id"] as? String ?? "", (s["peer"] as? String) ?? (s["relay"] as? String) ?? "-", s["version"] as? String ?? "-",
                    (s["tunnels"] as? [String] ?? []).joined(separator: ","), (s["rttMilliseconds"] as? Double).map { String(format: "%.1f ms", $0) } ?? "-",
                    "\(s["openStreams"] as? Int ?? 0)/\(s["streamsTotal"] as? Int ?? 0)\((s["goingAway"] as? Bool ?? false) ? " (going away)" : "")",
                    Self.bytes(s["bytesIn"] as? Int ?? 0), Self.bytes(s["bytesOut"] as? Int ?? 0), s["connectedAt"] as? String ?? "",
                ]
            })
        if role == "relay", let cluster = try? await fetch("cluster", client), cluster["enabled"] as? Bool == true {
            out += "\n" + Self.cluster(cluster)
        }
        return out
    }

    /// A relay's cluster (`GET /cluster`): its members with the tunnels each holds, and the
    /// peer sessions with the hops they carried.
    static func cluster(_ c: [String: Any]) -> String {
        let tunnels = c["tunnels"] as? [[String: Any]] ?? []
        var held: [String: [String]] = [:]
        for t in tunnels {
            for relay in t["relays"] as? [String] ?? [] { held[relay, default: []].append(t["tunnel"] as? String ?? "") }
        }
        var out = table(
            ["RELAY", "PEER ADDRESS", "VERSION", "TUNNELS HELD", "STARTED"],
            (c["members"] as? [[String: Any]] ?? []).map { m in
                let id = m["id"] as? String ?? ""
                return [
                    id + ((m["me"] as? Bool ?? false) ? " (this relay)" : ""), m["peerAddr"] as? String ?? "-", m["version"] as? String ?? "-",
                    (held[id] ?? []).sorted().joined(separator: ","), m["startedAt"] as? String ?? "",
                ]
            })
        let peers = c["peers"] as? [[String: Any]] ?? []
        if !peers.isEmpty {
            out += "\n" + table(
                ["PEER SESSION", "RELAY", "ADDRESS", "HOPS OPEN/TOTAL", "IN", "OUT"],
                peers.map { p in
                    [
                        p["direction"] as? String ?? "", p["relay"] as? String ?? "-", p["address"] as? String ?? "-",
                        "\(p["openStreams"] as? Int ?? 0)/\(p["streamsTotal"] as? Int ?? 0)", bytes(p["bytesIn"] as? Int ?? 0), bytes(p["bytesOut"] as? Int ?? 0),
                    ]
                })
        }
        return out
    }

    func fetch(_ path: String, _ client: HTTPClient) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: "\(base)/\(path)")
        if let credentials { request.headers.add(name: "Authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString()) }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(10))
        } catch {
            throw Failure(description: "cannot reach the admin API at \(base): \(error) (is the process running with -api?)")
        }
        let body = try await response.body.collect(upTo: 8 << 20)
        if response.status.code == 401 { throw Failure(description: "the admin API at \(base) wants credentials: give --auth user:password (or $TUNNEL_API_AUTH)") }
        guard response.status.code == 200, let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] else {
            throw Failure(description: "\(base)/\(path) answered \(response.status.code): \(String(buffer: body).prefix(200))")
        }
        return object
    }

    /// Columns padded to their widest cell; an empty table says so.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        guard !rows.isEmpty else { return header.joined(separator: "  ") + "\n(none)\n" }
        let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n") + "\n"
    }

    static func bytes(_ n: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(s % 60)s" }
        return "\(s / 3600)h\(s % 3600 / 60)m"
    }
}
