import Operations

/// The relay's part of the admin API's OpenAPI document: every route `RelayAdminAPI` adds, with
/// the schemas of `AdminViews` (the inspector's routes and schemas, and `Tunnel`, are
/// `InspectorOpenAPI`'s, shared with the agent). The tests validate every answer against it
/// (schemathesis), so a route and its entry here change together.
enum RelayOpenAPI {
    static let unauthorized = ##""401":{"$ref":"#/components/responses/Unauthorized"}"##
    static let notFound = ##""404":{"$ref":"#/components/responses/NotFound"}"##
    static func error(_ status: Int, _ description: String) -> String { OpenAPIDocument.json(status, description, ref: "Error") }
    static func ok(_ ref: String, status: Int = 200) -> String { OpenAPIDocument.json(status, "ok", ref: ref) }
    static let noContent = ##""204":{"description":"done"}"##

    static let paths = InspectorOpenAPI.requestPaths(replaySummary: "Send a kept request to its tunnel again; the answer is a new record") + [
        ##""/agents":{"get":{"operationId":"listAgents","summary":"Agent sessions","responses":{\##(ok("AgentList")),\##(unauthorized)}}}"##,
        ##""/agents/{id}":{"delete":{"operationId":"revokeAgent","summary":"Close an agent session (its agent reconnects only if its token is still valid)","parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"string"}}],"responses":{\##(noContent),\##(unauthorized),\##(notFound)}}}"##,
        ##""/tunnels":{"get":{"operationId":"listTunnels","summary":"Tunnels with their sessions, hostnames and traffic","responses":{\##(ok("TunnelList")),\##(unauthorized)}}}"##,
        ##""/rules":{"get":{"operationId":"listRules","summary":"Ingress rules in force","responses":{\##(ok("RuleList")),\##(unauthorized)}},"post":{"operationId":"addRule","summary":"Add an ingress rule","requestBody":{"required":true,"content":{"application/json":{"schema":{"$ref":"#/components/schemas/NewRule"}}}},"responses":{\##(ok("Rule", status: 201)),\##(error(400, "not a rule")),\##(unauthorized),\##(error(409, "the hostname already routes somewhere"))}}}"##,
        ##""/rules/{hostname}":{"delete":{"operationId":"removeRule","summary":"Remove the rule for exactly this hostname pattern","parameters":[{"name":"hostname","in":"path","required":true,"schema":{"type":"string"}}],"responses":{\##(noContent),\##(unauthorized),\##(notFound)}}}"##,
        ##""/ports":{"get":{"operationId":"listPorts","summary":"Ports agents had the relay open (rtcp/rudp)","responses":{\##(ok("PortList")),\##(unauthorized)}}}"##,
        ##""/cluster":{"get":{"operationId":"cluster","summary":"The cluster (--etcd): members, which relay holds which tunnel, peer sessions and the hops they carried","responses":{\##(ok("Cluster")),\##(unauthorized)}}}"##,
        ##""/drain":{"post":{"operationId":"drain","summary":"GOAWAY on every agent session: agents open new sessions, open streams finish","responses":{\##(ok("Drained")),\##(unauthorized)}}}"##,
    ]

    static let schemas = InspectorOpenAPI.requestSchemas + InspectorOpenAPI.tunnelSchemas + [
        ##""Agent":{"type":"object","required":["id","peer","version","token","tunnels","connectedAt","rttMilliseconds","openStreams","streamsTotal","bytesIn","bytesOut","goingAway"],"properties":{"id":{"type":"string"},"peer":{"type":"string","nullable":true},"version":{"type":"string","nullable":true},"token":{"type":"string","nullable":true,"description":"who the agent's token names"},"tunnels":{"type":"array","items":{"type":"string"}},"connectedAt":{"type":"string","format":"date-time"},"rttMilliseconds":{"type":"number","nullable":true},"openStreams":{"type":"integer","minimum":0},"streamsTotal":{"type":"integer","minimum":0},"bytesIn":{"type":"integer","minimum":0,"description":"received from the agent"},"bytesOut":{"type":"integer","minimum":0,"description":"sent to the agent"},"goingAway":{"type":"boolean"}},"additionalProperties":false}"##,
        ##""AgentList":{"type":"object","required":["agents"],"properties":{"agents":{"type":"array","items":{"$ref":"#/components/schemas/Agent"}}},"additionalProperties":false}"##,
        ##""Rule":{"type":"object","required":["hostname","tunnel","source"],"properties":{"hostname":{"type":"string"},"tunnel":{"type":"string"},"source":{"type":"string","enum":["config","agent","api","cluster"]}},"additionalProperties":false}"##,
        ##""RuleList":{"type":"object","required":["rules"],"properties":{"rules":{"type":"array","items":{"$ref":"#/components/schemas/Rule"}}},"additionalProperties":false}"##,
        ##""NewRule":{"type":"object","required":["hostname","tunnel"],"properties":{"hostname":{"type":"string","maxLength":253,"pattern":"^(\\*\\.|\\.)?[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*$","example":"app.example.com"},"tunnel":{"type":"string","minLength":1,"maxLength":128,"pattern":"^[^\\s]+$","example":"web"}}}"##,
        ##""Port":{"type":"object","required":["port","udp","tunnel"],"properties":{"port":{"type":"integer"},"udp":{"type":"boolean"},"tunnel":{"type":"string"}},"additionalProperties":false}"##,
        ##""PortList":{"type":"object","required":["ports"],"properties":{"ports":{"type":"array","items":{"$ref":"#/components/schemas/Port"}}},"additionalProperties":false}"##,
        ##""Cluster":{"type":"object","required":["enabled","relay","members","tunnels","peers"],"properties":{"enabled":{"type":"boolean"},"relay":{"type":"string","nullable":true},"members":{"type":"array","items":{"$ref":"#/components/schemas/ClusterMember"}},"tunnels":{"type":"array","items":{"$ref":"#/components/schemas/ClusterHolding"}},"peers":{"type":"array","items":{"$ref":"#/components/schemas/ClusterPeer"}}},"additionalProperties":false}"##,
        ##""ClusterMember":{"type":"object","required":["id","peerAddr","advertise","version","startedAt","me"],"properties":{"id":{"type":"string"},"peerAddr":{"type":"string","nullable":true},"advertise":{"type":"string"},"version":{"type":"string"},"startedAt":{"type":"string","format":"date-time"},"me":{"type":"boolean"}},"additionalProperties":false}"##,
        ##""ClusterHolding":{"type":"object","required":["tunnel","relays"],"properties":{"tunnel":{"type":"string"},"relays":{"type":"array","items":{"type":"string"}}},"additionalProperties":false}"##,
        ##""ClusterPeer":{"type":"object","required":["direction","relay","address","openStreams","streamsTotal","bytesIn","bytesOut"],"properties":{"direction":{"type":"string","enum":["out","in"]},"relay":{"type":"string","nullable":true},"address":{"type":"string","nullable":true},"openStreams":{"type":"integer","minimum":0},"streamsTotal":{"type":"integer","minimum":0},"bytesIn":{"type":"integer","minimum":0},"bytesOut":{"type":"integer","minimum":0}},"additionalProperties":false}"##,
        ##""Drained":{"type":"object","required":["sessions"],"properties":{"sessions":{"type":"integer","minimum":0}},"additionalProperties":false}"##,
    ]
}
