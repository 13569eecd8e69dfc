export { type SshCrypto, type SshHash, type X25519KeyPair, type Modp14KeyPair, type RsaPublicKey, type RsaPrivateKey, type StreamCipher, constantTimeEqual } from './crypto.js';
export { SshReader, SshWriter, encode } from './wire.js';
export { MSG, DISCONNECT } from './messages.js';
export { type PacketCipher, type CipherName, type MacName, type MacKey, CIPHER_NAMES, MAC_NAMES, isAeadCipher, macKeySize, NONE_CIPHER, createPacketCipher, cipherKeySizes, framePacket, framePacketInto, framedLength } from './packet.js';
export { type KexInitRepr, type Negotiated, type ExchangeHashInput, parseKexInit, emitKexInit, negotiate, exchangeHash, deriveKey } from './kex.js';
export {
  type SshPrivateKey,
  type AuthorizedKey,
  ED25519,
  SSH_RSA,
  SIGNATURE_ALGORITHMS,
  keyTypeOf,
  rsaKey,
  ed25519Key,
  generateEd25519Key,
  blobAlgorithm,
  verifySignature,
  parseAuthorizedKeys,
  isAuthorizedKey,
  formatPublicKey,
  parseOpenSshPrivateKey,
} from './keys.js';
export { KEX_NAMES, type KexName, type KexMethod, type KexKeyPair, MODP14_PRIME, isValidModp14Public, kexMethod } from './kex-method.js';
export { SshTransport, createTransport, type TransportConfig, type TransportDeps, type TransportRole, type TransportHandler, TRANSPORT_DEFAULTS } from './transport.js';
export { SshChannel, SshConnection, type GlobalRequestHandler, type ChannelOpenHandler, type ChannelConfig, type ChannelRequest, CHANNEL_DEFAULTS, OPEN_FAILURE } from './channel.js';
export { serveSshConnection, type SshServerOptions, type SshServerConnection, SERVER_DEFAULTS } from './server.js';
export { connectSsh, stdoutText, type SshClient, type SshClientOptions, type ExecResult, type InteractivePrompt, type ForwardedOrigin, type RemoteForward } from './client.js';
export { type RemoteForwardConfig, type RemoteForwardOptions, type TcpipForwardRequest, REMOTE_FORWARD_DEFAULTS, RemoteForwards, forwardBindAddress, loopbackOnly, pipeBothWays } from './forward.js';
