//! A minimal reader for the `.BTF` section clang emits (kernel doc: Documentation/bpf/btf.rst),
//! just enough to list a struct's members with their offsets and sizes. aya-obj parses BTF too,
//! but keeps member fields crate-private.

/// `BTF_MAGIC` in the header, in the object's byte order.
const BTF_MAGIC: u16 = 0xEB9F;

// BTF_KIND_* values (include/uapi/linux/btf.h).
const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

#[derive(Debug, Clone)]
struct Type {
    name: String,
    kind: u32,
    kind_flag: bool,
    /// `size` for INT/STRUCT/UNION/ENUM/FLOAT, referenced type id for the others.
    size_or_type: u32,
    /// STRUCT/UNION members: (name, type id, offset field as stored).
    members: Vec<(String, u32, u32)>,
    /// ARRAY: (element type id, element count).
    array: Option<(u32, u32)>,
}

/// One member of a struct as BTF describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub offset_bytes: u32,
    pub size_bytes: u32,
}

pub struct Btf {
    types: Vec<Type>, // index = type id; id 0 is `void`
}

fn u16_at(b: &[u8], off: usize) -> Result<u16, String> {
    b.get(off..off + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| format!("BTF truncated at byte {off}"))
}

fn u32_at(b: &[u8], off: usize) -> Result<u32, String> {
    b.get(off..off + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| format!("BTF truncated at byte {off}"))
}

fn str_at(strings: &[u8], off: u32) -> Result<String, String> {
    let tail = strings
        .get(off as usize..)
        .ok_or_else(|| format!("BTF string offset {off} out of range"))?;
    let end = tail.iter().position(|&c| c == 0).unwrap_or(tail.len());
    Ok(String::from_utf8_lossy(&tail[..end]).into_owned())
}

impl Btf {
    /// Parses a little-endian `.BTF` section (the objects are built with `-target bpfel` here).
    pub fn parse(section: &[u8]) -> Result<Btf, String> {
        if u16_at(section, 0)? != BTF_MAGIC {
            return Err("not a little-endian BTF section (bad magic)".into());
        }
        let hdr_len = u32_at(section, 4)? as usize;
        let type_off = u32_at(section, 8)? as usize;
        let type_len = u32_at(section, 12)? as usize;
        let str_off = u32_at(section, 16)? as usize;
        let str_len = u32_at(section, 20)? as usize;
        let types_raw = section
            .get(hdr_len + type_off..hdr_len + type_off + type_len)
            .ok_or("BTF type section out of range")?;
        let strings = section
            .get(hdr_len + str_off..hdr_len + str_off + str_len)
            .ok_or("BTF string section out of range")?;

        let mut types = vec![Type {
            name: "void".into(),
            kind: 0,
            kind_flag: false,
            size_or_type: 0,
            members: vec![],
            array: None,
        }];
        let mut pos = 0;
        while pos < types_raw.len() {
            let name = str_at(strings, u32_at(types_raw, pos)?)?;
            let info = u32_at(types_raw, pos + 4)?;
            let size_or_type = u32_at(types_raw, pos + 8)?;
            pos += 12;
            let kind = (info >> 24) & 0x1f;
            let vlen = (info & 0xffff) as usize;
            let mut ty = Type {
                name,
                kind,
                kind_flag: info >> 31 == 1,
                size_or_type,
                members: vec![],
                array: None,
            };
            // Each kind is followed by kind-specific data of a known size.
            pos += match kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_ARRAY => {
                    ty.array = Some((u32_at(types_raw, pos)?, u32_at(types_raw, pos + 8)?));
                    12
                }
                KIND_STRUCT | KIND_UNION => {
                    for i in 0..vlen {
                        let m = pos + i * 12;
                        ty.members.push((
                            str_at(strings, u32_at(types_raw, m)?)?,
                            u32_at(types_raw, m + 4)?,
                            u32_at(types_raw, m + 8)?,
                        ));
                    }
                    vlen * 12
                }
                KIND_ENUM | KIND_FUNC_PROTO => vlen * 8,
                KIND_DATASEC | KIND_ENUM64 => vlen * 12,
                KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
                | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => 0,
                other => return Err(format!("unknown BTF kind {other}")),
            };
            types.push(ty);
        }
        Ok(Btf { types })
    }

    /// Byte size of type `id`, looking through typedefs and qualifiers.
    fn size_of(&self, id: u32) -> Result<u32, String> {
        let mut seen = 0;
        let mut id = id;
        loop {
            let ty = self
                .types
                .get(id as usize)
                .ok_or_else(|| format!("BTF type id {id} out of range"))?;
            match ty.kind {
                KIND_INT | KIND_STRUCT | KIND_UNION | KIND_ENUM | KIND_ENUM64 | KIND_FLOAT => {
                    return Ok(ty.size_or_type)
                }
                KIND_PTR => return Ok(8),
                KIND_ARRAY => {
                    let (elem, n) = ty.array.ok_or("array without data")?;
                    return Ok(self.size_of(elem)? * n);
                }
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = ty.size_or_type;
                }
                other => return Err(format!("type id {id} (kind {other}) has no size")),
            }
            seen += 1;
            if seen > 64 {
                return Err("BTF type chain too long (cycle?)".into());
            }
        }
    }

    /// Size and members of `struct name`, in declaration order.
    pub fn struct_layout(&self, name: &str) -> Result<(u32, Vec<Member>), String> {
        let ty = self
            .types
            .iter()
            .find(|t| t.kind == KIND_STRUCT && t.name == name)
            .ok_or_else(|| format!("struct {name} not found in BTF"))?;
        let mut members = Vec::new();
        for (mname, mtype, offset) in &ty.members {
            // With kind_flag set, the low 24 bits are the bit offset (high 8: bitfield size).
            let bit_offset = if ty.kind_flag {
                offset & 0xff_ffff
            } else {
                *offset
            };
            if bit_offset % 8 != 0 {
                return Err(format!(
                    "{name}.{mname} is a bitfield; not shared with Rust"
                ));
            }
            members.push(Member {
                name: mname.clone(),
                offset_bytes: bit_offset / 8,
                size_bytes: self.size_of(*mtype)?,
            });
        }
        Ok((ty.size_or_type, members))
    }
}
