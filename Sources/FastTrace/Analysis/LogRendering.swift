/// Where the log meets the renderer: post-processing reads events from a log and renders
/// them with the capture's own names. Log/ and Output/ do not know each other; this folder
/// (journeys, diff, stats) uses both.
extension EventFormatter {
    /// For events read back from a log: the capture's function table, drop-reason names,
    /// clock offset, interface names and --output-skb-metadata fields (shown whenever the
    /// capture recorded them).
    public convenience init(options: OutputOptions, log: LogReader) {
        var options = options
        if options.skbMetadata == nil { options.skbMetadata = log.header.skbMetadata }
        if options.xdpMetadata == nil { options.xdpMetadata = log.header.xdpMetadata }
        self.init(options: options, targets: log.header.targets, drops: log.header.drops, context: .init(),
                  interfaces: InterfaceNames(recorded: log.trailer?.interfaces ?? [:]), retryUnnamed: false,
                  bootToWallNs: log.header.bootToWallNs, netns: NetnsNames(recorded: log.trailer?.netnsNames ?? [:]))
    }
}
