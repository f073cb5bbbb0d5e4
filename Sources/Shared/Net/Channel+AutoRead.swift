import NIOCore

extension Channel {
    /// Lets a channel that was opened or kept with reads off (autoRead false, until its bytes had
    /// somewhere to go) read on its own again. On the channel's loop; a channel without sync
    /// options, or one already reading, is left as it is.
    public func resumeAutoRead() throws {
        if let options = syncOptions, try options.getOption(ChannelOptions.autoRead) == false {
            try options.setOption(ChannelOptions.autoRead, value: true)
        }
    }
}
