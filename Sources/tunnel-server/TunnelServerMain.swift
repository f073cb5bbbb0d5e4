import TunnelServer

/// The `tunnel-server` binary. All of the relay lives in the TunnelServer library (so tests can
/// drive its parts); this only starts its command.
@main
enum TunnelServerMain {
    static func main() async {
        await TunnelServerCommand.main()
    }
}
