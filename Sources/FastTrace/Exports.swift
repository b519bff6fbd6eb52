// The instruction type is part of this library's interface (filters translate to it,
// programs are rewritten with it): users of FastTrace see BPFAsm without importing it.
@_exported import BPFAsm
