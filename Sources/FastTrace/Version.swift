public enum FastTraceVersion {
    public static let string = "0.1.0"
}
