// NICDriver: the network interface: frames to and from the TAP device newsd holds.
// Without a device (nic.backend = "none") it only reflects probes.
import NewsServer

ServerRuntime.main(.nicdriver) { context in
    context.args.deviceFD >= 0 ? try NICCore(context) as NICCore? : nil
}
