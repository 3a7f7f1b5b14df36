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
    /// The chunk so far while it is probed or compressed; in a stored
    /// chunk, only a block that a write left incomplete.
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
    /// What is done with the current chunk.
    mode: Mode,
    /// Bytes of the current chunk seen so far.
    pos: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Not known yet: gathered until the probe can be made.
    Undecided,
    /// Stored: streamed out block by block as it comes, not gathered.
    Stored,
    /// Compressed whole at its end.
    Compress,
}

/// Deflate's largest stored block.
const BLOCK: usize = 0xffff;

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
            mode: Mode::Undecided,
            pos: 0,
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

    /// The length of the stored block that starts at `at` in a chunk of
    /// `CHUNK` bytes (the last one, shorter, unless the stream ends first).
    fn block_len(at: usize) -> usize {
        BLOCK.min(CHUNK - at)
    }

    /// One stored block's header (the stream is byte-aligned here: after
    /// a sync flush, a stored block, or at its start).
    fn block_header(&mut self, len: usize) -> io::Result<()> {
        let len = len as u16;
        let mut h = [0u8; 5];
        h[1..3].copy_from_slice(&len.to_le_bytes());
        h[3..5].copy_from_slice(&(!len).to_le_bytes());
        self.out.write_all(&h)
    }

    /// Stream `data` (the next bytes of a stored chunk, not past its end)
    /// out as stored blocks at their fixed places in the chunk; a block
    /// left incomplete waits in `buf` for the rest.
    fn store_stream(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let block_start = self.pos - self.buf.len();
            let len = Self::block_len(block_start);
            let need = len - self.buf.len();
            if data.len() < need {
                self.buf.extend_from_slice(data);
                self.pos += data.len();
                return Ok(());
            }
            self.block_header(len)?;
            if !self.buf.is_empty() {
                let held = std::mem::take(&mut self.buf);
                self.out.write_all(&held)?;
                self.buf = held;
                self.buf.clear();
            }
            self.out.write_all(&data[..need])?;
            data = &data[need..];
            self.pos += need;
        }
        Ok(())
    }

    /// Start the chunk that begins here.
    fn begin_chunk(&mut self) {
        self.pos = 0;
        self.buf.clear();
        if self.stored_left > 0 {
            self.stored_left -= 1;
            self.mode = Mode::Stored;
            // The compressor's window no longer ends where the stream does.
            self.fresh = false;
        } else {
            self.mode = Mode::Undecided;
        }
    }

    /// Decide an undecided chunk from what it has gathered (enough to
    /// probe, or all there is).
    fn decide(&mut self) -> io::Result<()> {
        let data = std::mem::take(&mut self.buf);
        let pays = self.probe_pays(&data);
        self.buf = data;
        if pays {
            self.mode = Mode::Compress;
            return Ok(());
        }
        self.stored_left = STORED_RUN;
        self.mode = Mode::Stored;
        self.fresh = false;
        // What was gathered goes out as the start of the stored chunk.
        let held = std::mem::take(&mut self.buf);
        self.pos = 0;
        self.store_stream(&held)?;
        let mut held = held;
        held.clear();
        if self.buf.is_empty() {
            self.buf = held;
        }
        Ok(())
    }

    /// Compress the gathered chunk (its end, or the stream's).
    fn compress_chunk(&mut self) -> io::Result<()> {
        if !self.fresh {
            self.z.reset();
            self.fresh = true;
        }
        let data = std::mem::take(&mut self.buf);
        let n = self.deflate(&data, FlushCompress::Sync)?;
        if n as usize * 100 >= data.len() * WORTH_IT {
            self.stored_left = STORED_RUN;
        }
        self.buf = data;
        self.buf.clear();
        Ok(())
    }

    /// End the stream (an empty final stored block, then the trailer:
    /// CRC-32 and length mod 2^32); the writer back.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        if self.mode == Mode::Undecided && !self.buf.is_empty() {
            self.decide()?;
        }
        match self.mode {
            Mode::Compress if !self.buf.is_empty() => self.compress_chunk()?,
            Mode::Stored if !self.buf.is_empty() => {
                // The last block, as long as the stream lasted.
                let held = std::mem::take(&mut self.buf);
                self.block_header(held.len())?;
                self.out.write_all(&held)?;
            }
            _ => {}
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
        if data.is_empty() {
            return Ok(0);
        }
        if self.pos == CHUNK {
            self.begin_chunk();
        }
        let n = data.len().min(CHUNK - self.pos);
        let data = &data[..n];
        self.crc.update(data);
        match self.mode {
            Mode::Stored => self.store_stream(data)?,
            Mode::Undecided | Mode::Compress => {
                self.buf.extend_from_slice(data);
                self.pos += n;
                if self.mode == Mode::Undecided && self.buf.len() >= 2 * PROBE {
                    self.decide()?;
                }
                if self.mode == Mode::Compress && self.pos == CHUNK {
                    self.compress_chunk()?;
                }
            }
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

    /// The first implementation (every chunk gathered whole, then stored or
    /// compressed): the streaming one must write exactly its bytes.
    mod reference {
        use super::super::{CHUNK, PROBE, STORED_RUN, WORTH_IT};
        use flate2::{Compress, Compression, Crc, FlushCompress, Status};
        use std::io::{self, Write};

        pub(crate) struct RefGz<W: Write> {
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

        impl<W: Write> RefGz<W> {
            pub(crate) fn new(mut out: W) -> io::Result<Self> {
                // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255 (unknown), as flate2's.
                out.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255])?;
                Ok(RefGz {
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

        impl<W: Write> Write for RefGz<W> {
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
    }

    #[test]
    fn streaming_writes_the_bytes_the_gathering_implementation_wrote() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let text = b"all work and no play makes jack a dull boy. ".repeat(50_000);
        // Runs of text and noise of odd lengths, ending anywhere.
        let mut data = Vec::new();
        for i in 0..14 {
            if i % 3 == 1 {
                data.extend_from_slice(&text[..(rnd() as usize % text.len())]);
            } else {
                let n = rnd() as usize % (3 << 20);
                data.extend((0..n).map(|_| rnd() as u8));
            }
        }
        for cut in [
            0,
            1,
            100,
            70_000,
            131_072,
            131_073,
            1 << 20,
            (1 << 20) + 65_535,
            data.len(),
        ] {
            let d = &data[..cut.min(data.len())];
            let mut r = reference::RefGz::new(Vec::new()).unwrap();
            r.write_all(d).unwrap();
            let want = r.finish().unwrap();
            // Written in pieces of every kind of size.
            let mut w = AdaptiveGz::new(Vec::new()).unwrap();
            let mut rest = d;
            while !rest.is_empty() {
                let k = match rnd() % 4 {
                    0 => 1 + rnd() as usize % 600,
                    1 => 512,
                    2 => 1 << 20,
                    _ => 1 + rnd() as usize % (3 << 20),
                }
                .min(rest.len());
                w.write_all(&rest[..k]).unwrap();
                rest = &rest[k..];
            }
            let got = w.finish().unwrap();
            assert!(
                got == want,
                "{cut}: {} bytes, the reference {}",
                got.len(),
                want.len()
            );
            assert_eq!(gunzip(&got), d);
        }
    }

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
