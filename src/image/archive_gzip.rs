//! The gzip rpod writes layer blobs with (`push`, `save --compress`): one
//! ordinary gzip member, whose deflate stream is compressed (level 1) where
//! that pays and stored where it doesn't. Each MiB is probed first: its
//! first 64 KiB are compressed at level 1 on the side; when they shrink by
//! less than 3 %, that MiB and the next 8 are stored as they are (a
//! `memcpy` and a CRC instead of a compressor that gains nothing), then
//! the next MiB is probed. A MiB whose probe pays is compressed whole, and
//! when it still shrinks by less than 3 % the next 8 MiB are stored too. Layers of already-compressed data (packed
//! binaries, media, archives) go out at the speed of a copy, and text still
//! compresses. Stored chunks are written as deflate's stored blocks
//! directly, and the compressor starts afresh (its window reset) after
//! them: each compressed run ends in a sync flush, so the stream is
//! byte-aligned wherever it switches. The choice depends on the bytes only, so the same tar always
//! gives the same blob (and the same digest).

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

use std::io::{self, Write};

const CHUNK: usize = 1 << 20;
/// Stored chunks after a chunk that didn't compress, before the next try.
const STORED_RUN: u32 = 8;
/// A tried chunk must come out under this many hundredths of its size.
const WORTH_IT: usize = 97;
/// The part of a chunk the probe compresses.
const PROBE: usize = 64 << 10;

pub(crate) struct AdaptiveGz<W: Write> {
    out: W,
    z: Compress,
    crc: Crc,
    buf: Vec<u8>,
    obuf: Vec<u8>,
    /// Whether the compressor's window ends where the stream does (no
    /// stored chunk since it last compressed).
    fresh: bool,
    /// Chunks to store before trying to compress again.
    stored_left: u32,
    /// The probe's own compressor and output.
    probe: Compress,
    pbuf: Vec<u8>,
}

impl<W: Write> AdaptiveGz<W> {
    pub(crate) fn new(mut out: W) -> io::Result<Self> {
        // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255 (unknown), as flate2's.
        out.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255])?;
        Ok(AdaptiveGz {
            out,
            z: Compress::new(Compression::fast(), false),
            crc: Crc::new(),
            buf: Vec::with_capacity(CHUNK),
            obuf: Vec::with_capacity(CHUNK + (64 << 10)),
            fresh: true,
            stored_left: 0,
            probe: Compress::new(Compression::fast(), false),
            // Room for all of it, whatever it becomes: the probe always ends.
            pbuf: Vec::with_capacity(2 * PROBE),
        })
    }

    /// Feed `input` with `flush`; write what comes out. Returns the bytes
    /// produced.
    fn deflate(&mut self, mut input: &[u8], flush: FlushCompress) -> io::Result<u64> {
        let start = self.z.total_out();
        loop {
            let before = self.z.total_in();
            self.obuf.clear();
            let st = self
                .z
                .compress_vec(input, &mut self.obuf, flush)
                .map_err(io::Error::other)?;
            input = &input[(self.z.total_in() - before) as usize..];
            self.out.write_all(&self.obuf)?;
            let full = self.obuf.len() == self.obuf.capacity();
            let done = match flush {
                FlushCompress::Finish => st == Status::StreamEnd,
                FlushCompress::None => input.is_empty(),
                _ => input.is_empty() && !full,
            };
            if done {
                return Ok(self.z.total_out() - start);
            }
        }
    }

    /// Write `data` as stored deflate blocks (the stream is byte-aligned
    /// here: after a sync flush, or at its start).
    fn store(&mut self, data: &[u8]) -> io::Result<()> {
        for block in data.chunks(0xffff) {
            let len = block.len() as u16;
            let mut h = [0u8; 5];
            h[1..3].copy_from_slice(&len.to_le_bytes());
            h[3..5].copy_from_slice(&(!len).to_le_bytes());
            self.out.write_all(&h)?;
            self.out.write_all(block)?;
        }
        Ok(())
    }

    /// Whether the start of `data` shrinks at level 1 (a chunk too small
    /// to probe is tried whole).
    fn probe_pays(&mut self, data: &[u8]) -> bool {
        if data.len() < 2 * PROBE {
            return true;
        }
        self.probe.reset();
        self.pbuf.clear();
        match self
            .probe
            .compress_vec(&data[..PROBE], &mut self.pbuf, FlushCompress::Finish)
        {
            Ok(Status::StreamEnd) => self.pbuf.len() * 100 < PROBE * WORTH_IT,
            _ => true,
        }
    }

    fn chunk(&mut self) -> io::Result<()> {
        let data = std::mem::take(&mut self.buf);
        self.crc.update(&data);
        let skip = self.stored_left > 0 || !self.probe_pays(&data);
        if skip {
            if self.stored_left == 0 {
                self.stored_left = STORED_RUN + 1;
            }
            self.store(&data)?;
            self.stored_left -= 1;
            // The compressor's window no longer ends where the stream does.
            self.fresh = false;
        } else {
            if !self.fresh {
                self.z.reset();
                self.fresh = true;
            }
            let n = self.deflate(&data, FlushCompress::Sync)?;
            if n as usize * 100 >= data.len() * WORTH_IT {
                self.stored_left = STORED_RUN;
            }
        }
        self.buf = data;
        self.buf.clear();
        Ok(())
    }

    /// End the stream (an empty final stored block, then the trailer:
    /// CRC-32 and length mod 2^32); the writer back.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        if !self.buf.is_empty() {
            self.chunk()?;
        }
        self.out.write_all(&[1, 0, 0, 0xff, 0xff])?;
        self.out.write_all(&self.crc.sum().to_le_bytes())?;
        self.out.write_all(&(self.crc.amount()).to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for AdaptiveGz<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.chunk()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut w = AdaptiveGz::new(Vec::new()).unwrap();
        for c in data.chunks(100_000) {
            w.write_all(c).unwrap();
        }
        w.finish().unwrap()
    }

    fn gunzip(b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(b)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn random_is_stored_text_compresses_and_both_read_back() {
        // xorshift: incompressible, reproducible.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let text = b"the quick brown fox jumps over the lazy dog\n".repeat(60_000);
        let mut data = text.clone();
        data.extend((0..(12 << 20)).map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        }));
        let z = gz(&data);
        assert_eq!(gunzip(&z), data);
        // Stored where random: barely over the input; the text shrank.
        assert!(z.len() < (12 << 20) + text.len() / 3, "{}", z.len());
        assert!(z.len() > 12 << 20);
        assert_eq!(gz(&data), z, "the same bytes give the same blob");
        let small = gz(b"hello");
        assert_eq!(gunzip(&small), b"hello");
        assert_eq!(gunzip(&gz(b"")), b"");
    }
}
