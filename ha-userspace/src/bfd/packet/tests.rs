use super::*;

/// A packet keepalived 2.2.7 sent while coming up, received on a UDP socket at port 3784
/// (`multiplier 3`, `min_rx 10`): version 1, diag 0, state Down, mult 3, length 24, my
/// discriminator 0x414be1f2, your discriminator 0, desired min TX 1 s (its idle rate),
/// required min RX 10 ms, echo 0.
const KEEPALIVED_DOWN: [u8; 24] = [
    0x20, 0x40, 0x03, 0x18, 0x41, 0x4b, 0xe1, 0xf2, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x42, 0x40,
    0x00, 0x00, 0x27, 0x10, 0x00, 0x00, 0x00, 0x00,
];

fn down() -> Control {
    Control {
        diag: Diag::None,
        state: State::Down,
        poll: false,
        fin: false,
        cpi: false,
        demand: false,
        detect_mult: 3,
        my_disc: 0x414b_e1f2,
        your_disc: 0,
        desired_min_tx: Micros(1_000_000),
        required_min_rx: Micros(10_000),
        required_min_echo_rx: Micros(0),
    }
}

#[test]
fn vector_decodes_and_encodes_both_ways() {
    assert_eq!(Control::decode(&KEEPALIVED_DOWN), Ok(down()));
    assert_eq!(down().encode(), KEEPALIVED_DOWN);
}

#[test]
fn flags_and_diag_round_trip() {
    let c = Control {
        diag: Diag::NeighborDown,
        state: State::Up,
        poll: true,
        fin: false,
        cpi: true,
        demand: false,
        your_disc: 7,
        ..down()
    };
    let b = c.encode();
    assert_eq!(b[0], 0x23);
    assert_eq!(b[1], 0xc0 | 0x20 | 0x08);
    assert_eq!(Control::decode(&b), Ok(c));
    let f = Control {
        poll: false,
        fin: true,
        ..c
    };
    assert_eq!(f.encode()[1], 0xc0 | 0x10 | 0x08);
}

#[test]
fn trailing_bytes_beyond_length_are_ignored() {
    let mut b = KEEPALIVED_DOWN.to_vec();
    b.extend_from_slice(&[0xaa; 8]);
    assert_eq!(Control::decode(&b), Ok(down()));
}

#[test]
fn rfc5880_6_8_6_discards() {
    let with = |i: usize, v: u8| {
        let mut b = KEEPALIVED_DOWN;
        b[i] = v;
        Control::decode(&b)
    };
    assert_eq!(
        Control::decode(&KEEPALIVED_DOWN[..23]),
        Err(DecodeError::Short(23))
    );
    assert_eq!(with(0, 0x40), Err(DecodeError::Version(2)));
    assert_eq!(with(3, 23), Err(DecodeError::Length { field: 23, got: 24 }));
    assert_eq!(with(3, 25), Err(DecodeError::Length { field: 25, got: 24 }));
    assert_eq!(with(1, 0x44), Err(DecodeError::Auth));
    assert_eq!(with(2, 0), Err(DecodeError::ZeroMult));
    assert_eq!(with(1, 0x41), Err(DecodeError::Multipoint));
    let mut b = KEEPALIVED_DOWN;
    b[4..8].fill(0);
    assert_eq!(Control::decode(&b), Err(DecodeError::ZeroDisc));
    // Your Discriminator 0 is only valid while the sender is Down or AdminDown.
    assert_eq!(with(1, 0x80), Err(DecodeError::ZeroYourDisc(State::Init)));
    assert!(with(1, 0x00).is_ok());
}

#[test]
fn intervals_past_32_bits_saturate() {
    let c = Control {
        desired_min_tx: Micros(u64::from(u32::MAX) + 5),
        ..down()
    };
    assert_eq!(&c.encode()[12..16], &[0xff; 4]);
}
