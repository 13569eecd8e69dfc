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
/** OFPG_MAX: the last group number; the ones above are reserved. */
export const OFPG_MAX = 0xffffff00;
/** OFPG_ALL: every group (group-mod delete, group stats). */
export const OFPG_ALL = 0xfffffffc;
/** OFPG_ANY. */
export const OFPG_ANY = 0xffffffff;
/** OFPM_MAX: the last meter number; OFPM_SLOWPATH, OFPM_CONTROLLER and OFPM_ALL follow. */
export const OFPM_MAX = 0xffff0000;
export const OFPM_SLOWPATH = 0xfffffffd;
export const OFPM_CONTROLLER = 0xfffffffe;
export const OFPM_ALL = 0xffffffff;
/** OFPQ_ALL: every queue of a port (queue stats). */
export const OFPQ_ALL = 0xffffffff;
/** OFPTT_ALL: every table (table-mod, flow-mod delete). */
export const OFPTT_ALL = 0xff;
/** OFPVID_PRESENT (1.3): set in a VLAN_VID OXM value when a tag is present. */
export const OFPVID_PRESENT = 0x1000;

/** Error types (ofp_error_type) and the codes this package sends. */
export const OFPET_HELLO_FAILED = 0;
export const OFPET_BAD_REQUEST = 1;
export const OFPET_BAD_ACTION = 2;
/** 1.3 only from here on. */
export const OFPET_BAD_INSTRUCTION = 3;
export const OFPET_BAD_MATCH = 4;
export const OFPET_FLOW_MOD_FAILED = 5;
export const OFPET_GROUP_MOD_FAILED = 6;
export const OFPET_PORT_MOD_FAILED = 7;
export const OFPET_TABLE_MOD_FAILED = 8;
export const OFPET_QUEUE_OP_FAILED = 9;
export const OFPET_SWITCH_CONFIG_FAILED = 10;
export const OFPET_ROLE_REQUEST_FAILED = 11;
export const OFPET_METER_MOD_FAILED = 12;
export const OFPET_TABLE_FEATURES_FAILED = 13;
/** OFPET_EXPERIMENTER (1.3): the error body is exp_type (16 bits), experimenter (32 bits), data. */
export const OFPET_EXPERIMENTER = 0xffff;
export const OFPHFC_INCOMPATIBLE = 0;
export const OFPBRC_BAD_VERSION = 0;
export const OFPBRC_BAD_TYPE = 1;
/** OFPBRC_BAD_STAT (1.0) / OFPBRC_BAD_MULTIPART (1.3). */
export const OFPBRC_BAD_MULTIPART = 2;
/** OFPBRC_BAD_VENDOR (1.0) / OFPBRC_BAD_EXPERIMENTER (1.3). */
export const OFPBRC_BAD_EXPERIMENTER = 3;
/** OFPBRC_BAD_SUBTYPE (1.0) / OFPBRC_BAD_EXP_TYPE (1.3). */
export const OFPBRC_BAD_EXP_TYPE = 4;
export const OFPBRC_EPERM = 5;
export const OFPBRC_BAD_LEN = 6;
/** 1.3 only: OFPBRC_BUFFER_EMPTY .. OFPBRC_MULTIPART_BUFFER_OVERFLOW. */
export const OFPBRC_BUFFER_EMPTY = 7;
export const OFPBRC_BUFFER_UNKNOWN = 8;
export const OFPBRC_BAD_TABLE_ID = 9;
export const OFPBRC_IS_SLAVE = 10;
export const OFPBRC_BAD_PORT = 11;
export const OFPBRC_BAD_PACKET = 12;
export const OFPBRC_MULTIPART_BUFFER_OVERFLOW = 13;
/** ofp_bad_action_code (1.0 stops at OFPBAC_BAD_QUEUE = 8, with VENDOR for EXPERIMENTER). */
export const OFPBAC_BAD_TYPE = 0;
export const OFPBAC_BAD_LEN = 1;
export const OFPBAC_BAD_EXPERIMENTER = 2;
export const OFPBAC_BAD_EXP_TYPE = 3;
export const OFPBAC_BAD_OUT_PORT = 4;
export const OFPBAC_BAD_ARGUMENT = 5;
export const OFPBAC_EPERM = 6;
export const OFPBAC_TOO_MANY = 7;
export const OFPBAC_BAD_QUEUE = 8;
export const OFPBAC_BAD_OUT_GROUP = 9;
export const OFPBAC_MATCH_INCONSISTENT = 10;
export const OFPBAC_UNSUPPORTED_ORDER = 11;
export const OFPBAC_BAD_TAG = 12;
export const OFPBAC_BAD_SET_TYPE = 13;
export const OFPBAC_BAD_SET_LEN = 14;
export const OFPBAC_BAD_SET_ARGUMENT = 15;
/** ofp_bad_instruction_code (1.3). */
export const OFPBIC_UNKNOWN_INST = 0;
export const OFPBIC_UNSUP_INST = 1;
export const OFPBIC_BAD_TABLE_ID = 2;
export const OFPBIC_UNSUP_METADATA = 3;
export const OFPBIC_UNSUP_METADATA_MASK = 4;
export const OFPBIC_BAD_EXPERIMENTER = 5;
export const OFPBIC_BAD_EXP_TYPE = 6;
export const OFPBIC_BAD_LEN = 7;
export const OFPBIC_EPERM = 8;
/** ofp_bad_match_code (1.3). */
export const OFPBMC_BAD_TYPE = 0;
export const OFPBMC_BAD_LEN = 1;
export const OFPBMC_BAD_TAG = 2;
export const OFPBMC_BAD_DL_ADDR_MASK = 3;
export const OFPBMC_BAD_NW_ADDR_MASK = 4;
export const OFPBMC_BAD_WILDCARDS = 5;
export const OFPBMC_BAD_FIELD = 6;
export const OFPBMC_BAD_VALUE = 7;
export const OFPBMC_BAD_MASK = 8;
export const OFPBMC_BAD_PREREQ = 9;
export const OFPBMC_DUP_FIELD = 10;
export const OFPBMC_EPERM = 11;
/** ofp_flow_mod_failed_code (1.3 numbering; 1.0 has ALL_TABLES_FULL 0, OVERLAP 1, EPERM 2, BAD_EMERG_TIMEOUT 3, BAD_COMMAND 4, UNSUPPORTED 5). */
export const OFPFMFC_UNKNOWN = 0;
export const OFPFMFC_TABLE_FULL = 1;
export const OFPFMFC_BAD_TABLE_ID = 2;
export const OFPFMFC_OVERLAP = 3;
export const OFPFMFC_EPERM = 4;
export const OFPFMFC_BAD_TIMEOUT = 5;
export const OFPFMFC_BAD_COMMAND = 6;
export const OFPFMFC_BAD_FLAGS = 7;
/** ofp_group_mod_failed_code (1.3). */
export const OFPGMFC_GROUP_EXISTS = 0;
export const OFPGMFC_INVALID_GROUP = 1;
export const OFPGMFC_WEIGHT_UNSUPPORTED = 2;
export const OFPGMFC_OUT_OF_GROUPS = 3;
export const OFPGMFC_OUT_OF_BUCKETS = 4;
export const OFPGMFC_CHAINING_UNSUPPORTED = 5;
export const OFPGMFC_WATCH_UNSUPPORTED = 6;
export const OFPGMFC_LOOP = 7;
export const OFPGMFC_UNKNOWN_GROUP = 8;
export const OFPGMFC_CHAINED_GROUP = 9;
export const OFPGMFC_BAD_TYPE = 10;
export const OFPGMFC_BAD_COMMAND = 11;
export const OFPGMFC_BAD_BUCKET = 12;
export const OFPGMFC_BAD_WATCH = 13;
export const OFPGMFC_EPERM = 14;
/** ofp_port_mod_failed_code (1.3; 1.0 has BAD_PORT 0, BAD_HW_ADDR 1). */
export const OFPPMFC_BAD_PORT = 0;
export const OFPPMFC_BAD_HW_ADDR = 1;
export const OFPPMFC_BAD_CONFIG = 2;
export const OFPPMFC_BAD_ADVERTISE = 3;
export const OFPPMFC_EPERM = 4;
/** ofp_table_mod_failed_code (1.3). */
export const OFPTMFC_BAD_TABLE = 0;
export const OFPTMFC_BAD_CONFIG = 1;
export const OFPTMFC_EPERM = 2;
/** ofp_queue_op_failed_code. */
export const OFPQOFC_BAD_PORT = 0;
export const OFPQOFC_BAD_QUEUE = 1;
export const OFPQOFC_EPERM = 2;
/** ofp_switch_config_failed_code (1.3). */
export const OFPSCFC_BAD_FLAGS = 0;
export const OFPSCFC_BAD_LEN = 1;
export const OFPSCFC_EPERM = 2;
/** ofp_role_request_failed_code (1.3). */
export const OFPRRFC_STALE = 0;
export const OFPRRFC_UNSUP = 1;
export const OFPRRFC_BAD_ROLE = 2;
/** ofp_meter_mod_failed_code (1.3). */
export const OFPMMFC_UNKNOWN = 0;
export const OFPMMFC_METER_EXISTS = 1;
export const OFPMMFC_INVALID_METER = 2;
export const OFPMMFC_UNKNOWN_METER = 3;
export const OFPMMFC_BAD_COMMAND = 4;
export const OFPMMFC_BAD_FLAGS = 5;
export const OFPMMFC_BAD_RATE = 6;
export const OFPMMFC_BAD_BURST = 7;
export const OFPMMFC_BAD_BAND = 8;
export const OFPMMFC_BAD_BAND_VALUE = 9;
export const OFPMMFC_OUT_OF_METERS = 10;
export const OFPMMFC_OUT_OF_BANDS = 11;
/** ofp_table_features_failed_code (1.3). */
export const OFPTFFC_BAD_TABLE = 0;
export const OFPTFFC_BAD_METADATA = 1;
export const OFPTFFC_BAD_TYPE = 2;
export const OFPTFFC_BAD_LEN = 3;
export const OFPTFFC_BAD_ARGUMENT = 4;
export const OFPTFFC_EPERM = 5;

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
    'barrier-request': 18, 'barrier-reply': 19, 'queue-get-config-request': 20, 'queue-get-config-reply': 21,
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
    SET_NW_SRC: 6, SET_NW_DST: 7, SET_NW_TOS: 8, SET_TP_SRC: 9, SET_TP_DST: 10, ENQUEUE: 11, VENDOR: 0xffff,
  },
} as const;

export const OFP13 = {
  TYPES: {
    hello: 0, error: 1, 'echo-request': 2, 'echo-reply': 3, experimenter: 4,
    'features-request': 5, 'features-reply': 6, 'get-config-request': 7, 'get-config-reply': 8,
    'set-config': 9, 'packet-in': 10, 'flow-removed': 11, 'port-status': 12, 'packet-out': 13,
    'flow-mod': 14, 'group-mod': 15, 'port-mod': 16, 'table-mod': 17, 'multipart-request': 18,
    'multipart-reply': 19, 'barrier-request': 20, 'barrier-reply': 21, 'queue-get-config-request': 22,
    'queue-get-config-reply': 23, 'role-request': 24, 'role-reply': 25, 'get-async-request': 26, 'get-async-reply': 27,
    'set-async': 28, 'meter-mod': 29,
  },
  OXM_CLASS_OPENFLOW_BASIC: 0x8000,
  MATCH_TYPE_OXM: 1,
  HELLO_ELEM_VERSIONBITMAP: 1,
  /** ofp_action_type. */
  ACTIONS: {
    OUTPUT: 0, COPY_TTL_OUT: 11, COPY_TTL_IN: 12, SET_MPLS_TTL: 15, DEC_MPLS_TTL: 16,
    PUSH_VLAN: 17, POP_VLAN: 18, PUSH_MPLS: 19, POP_MPLS: 20, SET_QUEUE: 21, GROUP: 22,
    SET_NW_TTL: 23, DEC_NW_TTL: 24, SET_FIELD: 25, PUSH_PBB: 26, POP_PBB: 27, EXPERIMENTER: 0xffff,
  },
  /** ofp_instruction_type. */
  INSTRUCTIONS: { GOTO_TABLE: 1, WRITE_METADATA: 2, WRITE_ACTIONS: 3, APPLY_ACTIONS: 4, CLEAR_ACTIONS: 5, METER: 6, EXPERIMENTER: 0xffff },
} as const;

/** Multipart (1.3) / stats (1.0) body types; 1.0 has DESC..QUEUE and VENDOR (= EXPERIMENTER). */
export const OFPMP_DESC = 0;
export const OFPMP_FLOW = 1;
export const OFPMP_AGGREGATE = 2;
export const OFPMP_TABLE = 3;
export const OFPMP_PORT_STATS = 4;
export const OFPMP_QUEUE = 5;
export const OFPMP_GROUP = 6;
export const OFPMP_GROUP_DESC = 7;
export const OFPMP_GROUP_FEATURES = 8;
export const OFPMP_METER = 9;
export const OFPMP_METER_CONFIG = 10;
export const OFPMP_METER_FEATURES = 11;
export const OFPMP_TABLE_FEATURES = 12;
export const OFPMP_PORT_DESC = 13;
export const OFPMP_EXPERIMENTER = 0xffff;
/** OFPMPF_REQ_MORE / OFPMPF_REPLY_MORE. */
export const OFPMPF_MORE = 1;

/** ofp_group_mod_command (1.3 §7.3.4.2). */
export const OFPGC_ADD = 0;
export const OFPGC_MODIFY = 1;
export const OFPGC_DELETE = 2;
/** ofp_group_type (1.3 §5.6.1). */
export const OFPGT_ALL = 0;
export const OFPGT_SELECT = 1;
export const OFPGT_INDIRECT = 2;
export const OFPGT_FF = 3;

/** ofp_meter_mod_command (1.3 §7.3.4.4). */
export const OFPMC_ADD = 0;
export const OFPMC_MODIFY = 1;
export const OFPMC_DELETE = 2;
/** ofp_meter_flags. */
export const OFPMF_KBPS = 1;
export const OFPMF_PKTPS = 2;
export const OFPMF_BURST = 4;
export const OFPMF_STATS = 8;
/** ofp_meter_band_type. */
export const OFPMBT_DROP = 1;
export const OFPMBT_DSCP_REMARK = 2;
export const OFPMBT_EXPERIMENTER = 0xffff;

/** ofp_controller_role (1.3 §7.3.9). */
export const OFPCR_ROLE_NOCHANGE = 0;
export const OFPCR_ROLE_EQUAL = 1;
export const OFPCR_ROLE_MASTER = 2;
export const OFPCR_ROLE_SLAVE = 3;

/** ofp_queue_properties: NONE (1.0 only), MIN_RATE, MAX_RATE (1.3), EXPERIMENTER (1.3). */
export const OFPQT_NONE = 0;
export const OFPQT_MIN_RATE = 1;
export const OFPQT_MAX_RATE = 2;
export const OFPQT_EXPERIMENTER = 0xffff;
