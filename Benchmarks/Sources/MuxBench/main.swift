// MuxBench: Mux throughput, opens/s and memory per idle stream against raw TCP/TLS pipes, over
// loopback, in one run, printed as a table. Not a test: numbers depend on the machine.
import Foundation
import Mux
import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#endif

/// Unbuffered output, so progress shows when piped.
func out(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
let arguments = CommandLine.arguments
func argument(_ name: String) -> String? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}
let quick = arguments.contains("--quick")
let totalBytes = Int(argument("--bytes") ?? "") ?? (quick ? 256 << 20 : 2 << 30)
let opensCount = Int(argument("--opens") ?? "") ?? (quick ? 20_000 : 100_000)
let idleCount = Int(argument("--idle") ?? "") ?? (quick ? 2_000 : 10_000)
let runs = Int(argument("--runs") ?? "") ?? (quick ? 1 : 5)

let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
let tls = try TLSMaterial.make()

var rows: [(String, String, String)] = []
@MainActor func report(_ name: String, _ value: String, _ note: String = "") {
    rows.append((name, value, note))
    let padded = name.padding(toLength: 44, withPad: " ", startingAt: 0)
    out("  \(padded) \(String(repeating: " ", count: max(0, 14 - value.count)))\(value)  \(note)")
}
func gbps(_ bytes: Int, _ seconds: Double) -> Double { Double(bytes) * 8 / seconds / 1e9 }

out("MuxBench: \(totalBytes >> 20) MiB per throughput run, \(runs) raw/Mux pairs; \(opensCount) opens; \(idleCount) idle streams")

/// Best of `runs` (least disturbed by the rest of the machine).
@MainActor func best(_ body: () throws -> Double) rethrows -> Double {
    var result = 0.0
    for _ in 0..<runs { result = max(result, try body()) }
    return result
}

if let only = argument("--only") {
    let t: Transport = only.contains("tls") ? .tls : .tcp
    let streams = only.contains("100") ? 100 : 1
    let g = try best { try Pipes.throughput(transport: t, mux: only.hasPrefix("mux"), streams: streams, bytes: totalBytes, group: group, tls: tls) }
    out("\(only): \(g) Gbit/s")
    exit(0)
}
/// Runs raw and Mux alternately `runs` times (so both see the same machine state) and returns
/// the best of each plus the median of the per-pair ratios.
@MainActor func paired(_ transport: Transport, streams: Int) throws -> (raw: Double, mux: Double, ratio: Double) {
    var raws: [Double] = []
    var muxes: [Double] = []
    var ratios: [Double] = []
    for _ in 0..<runs {
        let raw = try Pipes.throughput(transport: transport, mux: false, streams: 1, bytes: totalBytes, group: group, tls: tls)
        let mux = try Pipes.throughput(transport: transport, mux: true, streams: streams, bytes: totalBytes, group: group, tls: tls)
        raws.append(raw)
        muxes.append(mux)
        ratios.append(mux / raw)
    }
    return (raws.max()!, muxes.max()!, ratios.sorted()[ratios.count / 2])
}

let tcp1 = try paired(.tcp, streams: 1)
report("raw TCP pipe, 1 connection", String(format: "%.2f Gbit/s", tcp1.raw), "best of \(runs)")
report("Mux over TCP, 1 stream", String(format: "%.2f Gbit/s", tcp1.mux), String(format: "median ratio %.0f%% of raw TCP (target >= 80%%)", tcp1.ratio * 100))
let tls1 = try paired(.tls, streams: 1)
report("raw TLS 1.3 pipe, 1 connection", String(format: "%.2f Gbit/s", tls1.raw), "best of \(runs)")
report("Mux over TLS 1.3, 1 stream", String(format: "%.2f Gbit/s", tls1.mux), String(format: "median ratio %.0f%% of raw TLS (target >= 80%%)", tls1.ratio * 100))
let tcp100 = try paired(.tcp, streams: 100)
report("Mux over TCP, 100 concurrent streams total", String(format: "%.2f Gbit/s", tcp100.mux), String(format: "median ratio %.0f%% of raw TCP", tcp100.ratio * 100))
let tls100 = try paired(.tls, streams: 100)
report("Mux over TLS, 100 concurrent streams total", String(format: "%.2f Gbit/s", tls100.mux), String(format: "median ratio %.0f%% of raw TLS", tls100.ratio * 100))
let opens = try best { try Opens.perSecond(count: opensCount, group: group) }
report("stream opens/s (open + FIN/close, TCP)", String(format: "%.0f /s", opens), "target >= 50,000")
let idle = try Idle.bytesPerStream(count: idleCount, group: group)
report("memory per idle stream, per side", String(format: "%.0f B", idle.perSide), String(format: "heap; target <= 4096 B (both sides together %.0f B, RSS %.0f B)", idle.perSide * 2, idle.rssPerSide * 2))

out("")
out("| benchmark | result | note |")
out("|---|---|---|")
for row in rows { out("| \(row.0) | \(row.1) | \(row.2) |") }
try group.syncShutdownGracefully()
