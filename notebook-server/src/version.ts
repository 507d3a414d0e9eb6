// The product version, reported by the MCP servers and clients of both roles.
export const PERAGUS_VERSION = '0.1.0';
