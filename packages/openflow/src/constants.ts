/** Protocol numbers of OpenFlow 1.0.0 and 1.3.x, named as the specifications name them. */

/** Wire versions (ofp_header.version). */
export const OFP_VERSION_1_0 = 0x01;
export const OFP_VERSION_1_3 = 0x04;
/** The versions this package speaks. */
export type OfpVersion = typeof OFP_VERSION_1_0 | typeof OFP_VERSION_1_3;

/** The well-known TCP port (IANA, OpenFlow 1.3.x §6.3.1). */
export const OFP_TCP_PORT = 6653;

/** Reserved port numbers, in their 32-bit (1.3) form; 1.0's 16-bit ones widen to these. */
export const OFPP_MAX = 0xffffff00;
export const OFPP_IN_PORT = 0xfffffff8;
export const OFPP_TABLE = 0xfffffff9;
export const OFPP_NORMAL = 0xfffffffa;
export const OFPP_FLOOD = 0xfffffffb;
export const OFPP_ALL = 0xfffffffc;
export const OFPP_CONTROLLER = 0xfffffffd;
export const OFPP_LOCAL = 0xfffffffe;
export const OFPP_ANY = 0xffffffff;
/** OFP_NO_BUFFER: a packet-in or packet-out without a switch buffer. */
export const OFP_NO_BUFFER = 0xffffffff;
/** OFPCML_NO_BUFFER: send the whole packet to the controller. */
export const OFPCML_NO_BUFFER = 0xffff;
/** OFPG_ANY. */
export const OFPG_ANY = 0xffffffff;
/** OFPVID_PRESENT (1.3): set in a VLAN_VID OXM value when a tag is present. */
export const OFPVID_PRESENT = 0x1000;

/** Error types (ofp_error_type) and the codes this package sends. */
export const OFPET_HELLO_FAILED = 0;
export const OFPET_BAD_REQUEST = 1;
export const OFPET_BAD_ACTION = 2;
export const OFPHFC_INCOMPATIBLE = 0;
export const OFPBRC_BAD_VERSION = 0;
export const OFPBRC_BAD_TYPE = 1;
/** OFPBRC_BAD_STAT (1.0) / OFPBRC_BAD_MULTIPART (1.3). */
export const OFPBRC_BAD_MULTIPART = 2;
export const OFPBRC_BAD_LEN = 6;

/** Flow-mod commands. */
export const OFPFC_ADD = 0;
export const OFPFC_MODIFY = 1;
export const OFPFC_MODIFY_STRICT = 2;
export const OFPFC_DELETE = 3;
export const OFPFC_DELETE_STRICT = 4;
/** Flow-mod flags. */
export const OFPFF_SEND_FLOW_REM = 1;
export const OFPFF_CHECK_OVERLAP = 2;

/** Message type numbers per version (ofp_type). */
export const OFP10 = {
  TYPES: {
    hello: 0, error: 1, 'echo-request': 2, 'echo-reply': 3, experimenter: 4,
    'features-request': 5, 'features-reply': 6, 'get-config-request': 7, 'get-config-reply': 8,
    'set-config': 9, 'packet-in': 10, 'flow-removed': 11, 'port-status': 12, 'packet-out': 13,
    'flow-mod': 14, 'port-mod': 15, 'multipart-request': 16, 'multipart-reply': 17,
    'barrier-request': 18, 'barrier-reply': 19,
  },
  /** ofp_flow_wildcards (OpenFlow 1.0.0 §5.2.3). */
  WILDCARDS: {
    IN_PORT: 1 << 0, DL_VLAN: 1 << 1, DL_SRC: 1 << 2, DL_DST: 1 << 3, DL_TYPE: 1 << 4,
    NW_PROTO: 1 << 5, TP_SRC: 1 << 6, TP_DST: 1 << 7, NW_SRC_SHIFT: 8, NW_DST_SHIFT: 14,
    DL_VLAN_PCP: 1 << 20, NW_TOS: 1 << 21,
  },
  /** ofp_action_type. */
  ACTIONS: {
    OUTPUT: 0, SET_VLAN_VID: 1, SET_VLAN_PCP: 2, STRIP_VLAN: 3, SET_DL_SRC: 4, SET_DL_DST: 5,
    SET_NW_SRC: 6, SET_NW_DST: 7, SET_NW_TOS: 8, SET_TP_SRC: 9, SET_TP_DST: 10, ENQUEUE: 11,
  },
} as const;

export const OFP13 = {
  TYPES: {
    hello: 0, error: 1, 'echo-request': 2, 'echo-reply': 3, experimenter: 4,
    'features-request': 5, 'features-reply': 6, 'get-config-request': 7, 'get-config-reply': 8,
    'set-config': 9, 'packet-in': 10, 'flow-removed': 11, 'port-status': 12, 'packet-out': 13,
    'flow-mod': 14, 'group-mod': 15, 'port-mod': 16, 'table-mod': 17, 'multipart-request': 18,
    'multipart-reply': 19, 'barrier-request': 20, 'barrier-reply': 21,
  },
  OXM_CLASS_OPENFLOW_BASIC: 0x8000,
  MATCH_TYPE_OXM: 1,
  HELLO_ELEM_VERSIONBITMAP: 1,
  /** ofp_action_type. */
  ACTIONS: {
    OUTPUT: 0, COPY_TTL_OUT: 11, COPY_TTL_IN: 12, SET_MPLS_TTL: 15, DEC_MPLS_TTL: 16,
    PUSH_VLAN: 17, POP_VLAN: 18, PUSH_MPLS: 19, POP_MPLS: 20, SET_QUEUE: 21, GROUP: 22,
    SET_NW_TTL: 23, DEC_NW_TTL: 24, SET_FIELD: 25,
  },
  /** ofp_instruction_type. */
  INSTRUCTIONS: { GOTO_TABLE: 1, WRITE_METADATA: 2, WRITE_ACTIONS: 3, APPLY_ACTIONS: 4, CLEAR_ACTIONS: 5, METER: 6 },
} as const;

/** Multipart (1.3) / stats (1.0) body types. */
export const OFPMP_DESC = 0;
export const OFPMP_FLOW = 1;
export const OFPMP_AGGREGATE = 2;
export const OFPMP_PORT_STATS = 4;
export const OFPMP_PORT_DESC = 13;
/** OFPMPF_REQ_MORE / OFPMPF_REPLY_MORE. */
export const OFPMPF_MORE = 1;
