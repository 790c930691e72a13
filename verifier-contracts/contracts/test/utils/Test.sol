// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// The forge cheatcodes these tests use (the npm forge-std is an old broken copy, so this is a
/// small base of our own over the `vm` interface).
interface Vm {
    function prank(address) external;
    function startPrank(address) external;
    function stopPrank() external;
    function expectRevert(bytes4) external;
    function expectRevert(bytes calldata) external;
    function expectRevert() external;
    function expectEmit(bool, bool, bool, bool) external;
    function expectEmit() external;
    function assume(bool) external pure;
    function addr(uint256) external pure returns (address);
    function sign(uint256, bytes32) external pure returns (uint8, bytes32, bytes32);
    function label(address, string calldata) external;
    function assertEq(uint256, uint256) external pure;
    function assertEq(uint256, uint256, string calldata) external pure;
    function assertEq(address, address) external pure;
    function assertEq(bool, bool) external pure;
    function assertTrue(bool) external pure;
    function assertTrue(bool, string calldata) external pure;
    function assertFalse(bool) external pure;
    function assertLe(uint256, uint256, string calldata) external pure;
    function startSnapshotGas(string calldata) external;
    function stopSnapshotGas() external returns (uint256);
    function warp(uint256) external;
    function roll(uint256) external;
    function chainId(uint256) external;
    function getNonce(address) external view returns (uint64);
}

/// Test base: `vm`, assertions forwarded to the cheatcodes, `bound`, and the target lists the
/// invariant runner reads.
abstract contract Test {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    address[] private _targetContracts;

    function assertEq(uint256 a, uint256 b) internal pure {
        vm.assertEq(a, b);
    }

    function assertEq(uint256 a, uint256 b, string memory why) internal pure {
        vm.assertEq(a, b, why);
    }

    function assertEq(address a, address b) internal pure {
        vm.assertEq(a, b);
    }

    function assertTrue(bool c, string memory why) internal pure {
        vm.assertTrue(c, why);
    }

    function assertFalse(bool c) internal pure {
        vm.assertFalse(c);
    }

    /// `x` mapped into [lo, hi] (inclusive).
    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        require(lo <= hi, "bound: lo > hi");
        if (lo == 0 && hi == type(uint256).max) return x;
        return lo + (x % (hi - lo + 1));
    }

    function targetContract(address c) internal {
        _targetContracts.push(c);
    }

    /// Read by forge's invariant runner.
    function targetContracts() public view returns (address[] memory) {
        return _targetContracts;
    }
}
