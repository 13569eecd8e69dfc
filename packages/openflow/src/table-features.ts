/**
 * Table features (OpenFlow 1.3.x §7.3.5.5): the body of a TABLE_FEATURES multipart request or
 * reply, a list of `ofp_table_features` with their properties. The multipart repr carries the
 * body as raw bytes (kind `'other'`, stats type OFPMP_TABLE_FEATURES); these functions give it
 * meaning.
 */
import { ByteReader, ByteWriter, DecodeError } from '@morgana/core';
import { readRecord } from './group.js';

/** ofp_table_features: named offsets of its 64-byte fixed part. */
export const TABLE_FEATURES = {
  LENGTH: 0, TABLE_ID: 2, NAME: 8, METADATA_MATCH: 40, METADATA_WRITE: 48, CONFIG: 56, MAX_ENTRIES: 60, SIZE: 64,
} as const;
/** OFP_MAX_TABLE_NAME_LEN. */
const NAME_SIZE = 32;
/** ofp_table_feature_prop_header: type, length (without padding). */
const PROPERTY_HEADER_SIZE = 4;
/** Instruction and action ids are 4 bytes, 8 for experimenter ones (1.3.x §7.3.5.5.2). */
const ID_SIZE = 4;
const EXPERIMENTER_ID_TYPE = 0xffff;

/** An instruction or action id: its type, and for OFPIT/OFPAT_EXPERIMENTER the experimenter id. */
export interface FeatureId {
  readonly type: number;
  readonly experimenter?: number;
}

/** One table feature property (ofp_table_feature_prop_type), named as the specification does. */
export type TableFeatureProperty =
  | { readonly type: 'instructions' | 'instructions-miss'; readonly instructionIds: readonly FeatureId[] }
  | { readonly type: 'next-tables' | 'next-tables-miss'; readonly tableIds: readonly number[] }
  | { readonly type: 'write-actions' | 'write-actions-miss' | 'apply-actions' | 'apply-actions-miss'; readonly actionIds: readonly FeatureId[] }
  /** OXM headers (class, field, has-mask, length) of the fields a table matches, wildcards or sets. */
  | { readonly type: 'match' | 'wildcards' | 'write-setfield' | 'write-setfield-miss' | 'apply-setfield' | 'apply-setfield-miss'; readonly oxmIds: readonly number[] }
  | { readonly type: 'experimenter' | 'experimenter-miss'; readonly experimenter: number; readonly expType: number; readonly data: Uint8Array };

export type TableFeaturePropertyType = TableFeatureProperty['type'];

/** One table's features. */
export interface TableFeatures {
  readonly tableId: number;
  readonly name: string;
  readonly metadataMatch: bigint;
  readonly metadataWrite: bigint;
  readonly config: number;
  readonly maxEntries: number;
  readonly properties: readonly TableFeatureProperty[];
}

/** OFPTFPT_* numbers. */
export const OFPTFPT: Readonly<Record<TableFeaturePropertyType, number>> = {
  instructions: 0, 'instructions-miss': 1, 'next-tables': 2, 'next-tables-miss': 3, 'write-actions': 4, 'write-actions-miss': 5,
  'apply-actions': 6, 'apply-actions-miss': 7, match: 8, wildcards: 10, 'write-setfield': 12, 'write-setfield-miss': 13,
  'apply-setfield': 14, 'apply-setfield-miss': 15, experimenter: 0xfffe, 'experimenter-miss': 0xffff,
};
const propertyName: ReadonlyMap<number, TableFeaturePropertyType> = new Map(
  (Object.entries(OFPTFPT) as [TableFeaturePropertyType, number][]).map(([name, type]) => [type, name]),
);

function readIds(body: ByteReader, what: string): FeatureId[] {
  const ids: FeatureId[] = [];
  while (body.remaining > 0) {
    const type = body.u16();
    const length = body.u16();
    const expected = type === EXPERIMENTER_ID_TYPE ? ID_SIZE + 4 : ID_SIZE;
    if (length !== expected) throw new DecodeError('bad-length', `${what} id ${type} is ${length} bytes, expected ${expected}`);
    ids.push(type === EXPERIMENTER_ID_TYPE ? { type, experimenter: body.u32() } : { type });
  }
  return ids;
}

function writeIds(writer: ByteWriter, ids: readonly FeatureId[]): void {
  for (const id of ids) {
    if (id.type === EXPERIMENTER_ID_TYPE) writer.u16(id.type).u16(ID_SIZE + 4).u32(id.experimenter ?? 0);
    else writer.u16(id.type).u16(ID_SIZE);
  }
}

function parseProperty(reader: ByteReader): TableFeatureProperty {
  const number = reader.u16();
  const body = readRecord(reader, PROPERTY_HEADER_SIZE, 'table feature property', 2);
  // Each property is padded to a multiple of 8 bytes; the padding is not in its length.
  const length = body.remaining + PROPERTY_HEADER_SIZE;
  reader.skip(Math.min(reader.remaining, (8 - (length % 8)) % 8));
  const type = propertyName.get(number);
  switch (type) {
    case 'instructions': case 'instructions-miss': return { type, instructionIds: readIds(body, 'instruction') };
    case 'next-tables': case 'next-tables-miss': {
      const tableIds: number[] = [];
      while (body.remaining > 0) tableIds.push(body.u8());
      return { type, tableIds };
    }
    case 'write-actions': case 'write-actions-miss': case 'apply-actions': case 'apply-actions-miss':
      return { type, actionIds: readIds(body, 'action') };
    case 'match': case 'wildcards': case 'write-setfield': case 'write-setfield-miss': case 'apply-setfield': case 'apply-setfield-miss': {
      if (body.remaining % 4 !== 0) throw new DecodeError('bad-length', `table feature ${type} holds whole 4-byte OXM headers`);
      const oxmIds: number[] = [];
      while (body.remaining > 0) oxmIds.push(body.u32());
      return { type, oxmIds };
    }
    case 'experimenter': case 'experimenter-miss':
      return { type, experimenter: body.u32(), expType: body.u32(), data: body.bytesCopy(body.remaining) };
    default:
      // OFPTFFC_BAD_TYPE (1.3.x §7.4.4): a property type the specification does not define.
      throw new DecodeError('bad-table-feature-property', `unknown table feature property type ${number}`);
  }
}

function emitProperty(writer: ByteWriter, property: TableFeatureProperty): void {
  const start = writer.length;
  writer.u16(OFPTFPT[property.type]).u16(0);
  switch (property.type) {
    case 'instructions': case 'instructions-miss': writeIds(writer, property.instructionIds); break;
    case 'next-tables': case 'next-tables-miss': for (const tableId of property.tableIds) writer.u8(tableId); break;
    case 'write-actions': case 'write-actions-miss': case 'apply-actions': case 'apply-actions-miss': writeIds(writer, property.actionIds); break;
    case 'experimenter': case 'experimenter-miss': writer.u32(property.experimenter).u32(property.expType).bytes(property.data); break;
    default: for (const oxm of property.oxmIds) writer.u32(oxm);
  }
  const length = writer.length - start;
  writer.patchU16(start + 2, length);
  for (let pad = (8 - (length % 8)) % 8; pad > 0; pad -= 1) writer.u8(0);
}

function readName(reader: ByteReader): string {
  const bytes = reader.bytesView(NAME_SIZE);
  let text = '';
  for (let index = 0; index < NAME_SIZE && bytes[index] !== 0; index += 1) text += String.fromCharCode(bytes[index] as number);
  return text;
}

/** Parses a TABLE_FEATURES multipart body: zero or more `ofp_table_features`. */
export function parseTableFeatures(data: Uint8Array): TableFeatures[] {
  const reader = new ByteReader(data);
  const tables: TableFeatures[] = [];
  while (reader.remaining > 0) {
    const body = readRecord(reader, TABLE_FEATURES.SIZE, 'table features');
    const tableId = body.u8();
    body.skip(5);
    const name = readName(body);
    const metadataMatch = body.u64();
    const metadataWrite = body.u64();
    const config = body.u32();
    const maxEntries = body.u32();
    const properties: TableFeatureProperty[] = [];
    while (body.remaining > 0) properties.push(parseProperty(body));
    tables.push({ tableId, name, metadataMatch, metadataWrite, config, maxEntries, properties });
  }
  return tables;
}

/** Emits a TABLE_FEATURES multipart body; names keep 31 ASCII characters and a terminator. */
export function emitTableFeatures(tables: readonly TableFeatures[]): Uint8Array {
  const writer = new ByteWriter(256, 0xffff);
  for (const table of tables) {
    const start = writer.length;
    writer.u16(0).u8(table.tableId).u8(0).u32(0);
    for (let index = 0; index < NAME_SIZE; index += 1) writer.u8(index < NAME_SIZE - 1 && index < table.name.length ? table.name.charCodeAt(index) & 0x7f : 0);
    writer.u64(table.metadataMatch).u64(table.metadataWrite).u32(table.config).u32(table.maxEntries);
    for (const property of table.properties) emitProperty(writer, property);
    writer.patchU16(start, writer.length - start);
  }
  return writer.finish();
}
