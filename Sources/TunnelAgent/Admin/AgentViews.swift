import Foundation
import Mux
import Operations
import TunnelProtocol

/// The JSON the agent's admin API answers with, one type per schema of its OpenAPI document
/// (`AgentOpenAPI`; `Tunnel` is the relay's shape, `InspectorOpenAPI`'s): plain values taken
/// from snapshots, never live objects.
enum AgentViews {
    /// A tunnel this agent serves, with the relay sessions carrying it and its totals.
    typealias Tunnel = TunnelSummary

    /// A live session to the relay: the shared figures and the relay's address.
    struct Session: Codable, Sendable, Equatable {
        var figures: SessionFigures
        var relay: String

        init(_ session: MuxSession, _ info: LiveSessions.Info, relay: String) {
            figures = SessionFigures(session, info)
            self.relay = relay
        }

        private enum CodingKeys: String, CodingKey { case relay }

        init(from decoder: any Decoder) throws {
            figures = try SessionFigures(from: decoder)
            relay = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .relay)
        }

        /// The figures' keys and the relay's in one object.
        func encode(to encoder: any Encoder) throws {
            try figures.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(relay, forKey: .relay)
        }
    }
}
