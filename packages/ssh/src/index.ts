export { type SshCrypto, type SshHash, type X25519KeyPair, type RsaPublicKey, type RsaPrivateKey, type StreamCipher, constantTimeEqual } from './crypto.js';
